"""What a frame costs, in units that do not depend on the machine, and what that means on a Raspberry Pi.

Per stage: the work of one run in multiply-adds or pixels, how often it runs a second at the
current settings (detection every k-th frame, the finer pass, classifications per face per
second), this machine's milliseconds for one run, and a projection for one core of a Pi 4
and a Pi 5 from per-core figures published for the same networks or their kind (sources
in ``PI_SOURCES``, repeated in the README). The projection is a range, not a measurement.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FRAME_BUDGET_FPS = 30
# Milliseconds per million multiply-adds on one core, (low, high), with their sources:
PI_SOURCES = {
    "yunet_pi4": ((0.31, 0.69), "YuNet in OpenCV on a Pi 4, one thread: 5.4 ms at 160x120 (opencv_zoo benchmark "
                                "table) and 54-59 ms at 320x320 (TonyCongqianWang/cv_facedetection_eval), with "
                                "17 and 86 M multiply-adds counted here"),
    "cnn_pi4": ((0.22, 0.60), "small CNNs on a Pi 4: MobileNetV2-224 (300 M) in 66.6 ms (opencv_zoo) to about 180 ms "
                              "on one core with XNNPACK (44 ms on four); the A72 has no int8 dot product, so int8 "
                              "gains little"),
    "pi5_speedup": ((2.5, 4.0), "a Pi 5 core against a Pi 4 core: ncnn int8 MobileNet 40 vs 10 ms on four "
                                "threads; 2.5x for float work"),
}
# Pixels a second that a Pi 4 core resizes, warps or encodes (millions): OpenCV's NEON paths, a rough figure.
PIXEL_RATE_PI4 = (60.0, 150.0)
JPEG_RATE_PI4 = (15.0, 30.0)  # millions of pixels a second through libjpeg-turbo at quality 80


@dataclass
class Stage:
    key: str  # detect, fine, resize, classify or encode
    name: str
    unit: str  # what one run is counted in
    work: float  # per run, in that unit
    per_second: float  # runs a second
    here_ms: float  # this machine, one run
    pi4_ms_per_unit: tuple[float, float]  # (low, high) ms per unit of work on one Pi 4 core

    def pi4_ms_per_frame(self, fps: float) -> tuple[float, float]:
        share = self.per_second / fps
        return tuple(self.work * share * r for r in self.pi4_ms_per_unit)  # type: ignore[return-value]

    def to_json(self, fps: float) -> dict:
        lo, hi = self.pi4_ms_per_frame(fps)
        return {"key": self.key, "stage": self.name, "unit": self.unit, "work": self.work,
                "per_second": self.per_second, "here_ms": self.here_ms,
                "here_ms_per_frame": self.here_ms * self.per_second / fps, "pi4_ms_per_frame": [lo, hi]}


def _time(fn, runs: int = 30) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(runs):
        fn()
    return (time.perf_counter() - start) * 1000 / runs


def padded(size: int) -> int:
    """FaceDetectorYN pads its input to a multiple of 32."""
    return int(math.ceil(size / 32) * 32)


def budget(settings, faces: int) -> dict:
    """The cost model at ``settings`` with ``faces`` faces in view, on the settings' video source's first frame."""
    import cv2

    from pi_emotion import paths
    from pi_emotion.perception.model_work import model_work, onnx_macs
    from pi_emotion.runtime.app import build_classifier, build_detector
    from pi_emotion.sources.video import VideoFileSource

    source = VideoFileSource(Path(settings.source))
    frame = source.read()
    source.close()
    image, grey = frame.image, frame.grey
    height, width = image.shape[:2]
    fps = settings.fps
    detector, classifier = build_detector(settings), build_classifier(settings)
    detections = fps / settings.detect_every
    dw = min(width, settings.detect_width)
    dh = round(height * dw / width)
    stages: list[Stage] = []
    mmac = 1e6
    if settings.detector == "yunet":
        onnx = Path(settings.detector_model) if settings.detector_model else paths.shipped(paths.YUNET)
        yunet = PI_SOURCES["yunet_pi4"][0]
        stages.append(Stage("detect", f"detect {dw}x{dh}", "M MAC", onnx_macs(onnx, padded(dw), padded(dh)) / mmac,
                            detections, _time(lambda: detector.detect(image, grey)), yunet))
        if settings.fine_every:
            fw = min(width, 2 * dw)
            fh = round(height * fw / width)
            stages.append(Stage("fine", f"finer pass {fw}x{fh}", "M MAC",
                                onnx_macs(onnx, padded(fw), padded(fh)) / mmac, 1 / settings.fine_every,
                                _time(lambda: detector.detect(image, grey, fw), 5), yunet))
    else:
        stages.append(Stage("detect", f"detect {dw}x{dh} (Haar)", "M px", dw * dh / mmac, detections,
                            _time(lambda: detector.detect(image, grey)), (0.0, 0.0)))
    per_px = tuple(1000 / r for r in reversed(PIXEL_RATE_PI4))
    stages.append(Stage("resize", f"resize for detection {width}x{height}", "M px", width * height / mmac,
                        detections, _time(lambda: cv2.resize(image, (dw, dh), interpolation=cv2.INTER_AREA)),
                        per_px))
    # On a Pi camera, detection could take picamera2's lores stream (YUV420 at the detection size) instead
    # of the main frame scaled down: counted, not in the loop's sum, since it cannot be timed without a Pi.
    lores = Stage("lores", f"lores YUV420 to BGR {dw}x{dh}", "M px", dw * dh / mmac, detections,
                  _time(lambda: cv2.cvtColor(np.zeros((dh * 3 // 2, dw), np.uint8), cv2.COLOR_YUV2BGR_I420)), per_px)
    work = model_work(classifier.path)
    runs = 2 if classifier.tta else 1
    rate = min(settings.classify_rate or detections, detections)
    crop = np.zeros((1, *classifier.meta.input_size[::-1], classifier.meta.channels), np.uint8)
    stages.append(Stage("classify", f"classify ({'face and mirror' if runs == 2 else 'face'})", "M MAC",
                        runs * work.macs / mmac, faces * rate, _time(lambda: classifier.predict(crop), 100),
                        PI_SOURCES["cnn_pi4"][0]))
    stages.append(Stage("encode", "encode JPEG (someone watching)", "M px", width * height / mmac, fps,
                        _time(lambda: cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])),
                        tuple(1000 / r for r in reversed(JPEG_RATE_PI4))))
    loop = [s for s in stages if s.key != "encode"]
    lo = sum(s.pi4_ms_per_frame(fps)[0] for s in loop)
    hi = sum(s.pi4_ms_per_frame(fps)[1] for s in loop)
    speed5 = PI_SOURCES["pi5_speedup"][0]
    return {"source": settings.source, "fps": fps, "faces": faces, "detect_every": settings.detect_every,
            "classify_rate": settings.classify_rate, "model": classifier.path.name, "model_macs": work.macs,
            "tta": classifier.tta, "stages": [s.to_json(fps) for s in stages],
            "loop_pi4_ms_per_frame": [lo, hi], "loop_pi5_ms_per_frame": [lo / speed5[1], hi / speed5[0]],
            "frame_ms": 1000 / fps, "lores_instead_of_resize": lores.to_json(fps),
            "sources": {k: v[1] for k, v in PI_SOURCES.items()}}


def format_budget(r: dict) -> str:
    twice = ", twice: face and mirror" if r["tta"] else ""
    lines = [f"{r['faces']} faces at {r['fps']:g} fps, detection every {r['detect_every']} frames, "
             f"{r['classify_rate']:g} classifications a face a second, model {r['model']} "
             f"({r['model_macs'] / 1e6:.1f} M multiply-adds{twice})", "",
             f"{'stage':<34}{'work/run':>14}{'runs/s':>8}{'here ms/run':>12}{'here ms/fr':>11}{'Pi 4 ms/frame':>16}"]
    for s in r["stages"]:
        lo, hi = s["pi4_ms_per_frame"]
        pi4 = f"{lo:5.1f} - {hi:5.1f}" if hi else "n/a"
        lines.append(f"{s['stage']:<34}{s['work']:>9.2f} {s['unit']:<4}{s['per_second']:>8.1f}{s['here_ms']:>12.3f}"
                     f"{s['here_ms_per_frame']:>11.3f}{pi4:>16}")
    lo, hi = r["loop_pi4_ms_per_frame"]
    lo5, hi5 = r["loop_pi5_ms_per_frame"]
    lores = r["lores_instead_of_resize"]
    lines += ["", f"frame loop (all but the JPEG, which runs on its own thread): Pi 4 core {lo:.1f} - {hi:.1f} ms, "
                  f"Pi 5 core {lo5:.1f} - {hi5:.1f} ms, of {r['frame_ms']:.1f} ms a frame",
              f"on a Pi camera, detection's input from the lores stream instead: {lores['work']:.2f}"
              f" M px converted against {next(s['work'] for s in r['stages'] if s['key'] == 'resize'):.2f} M px "
              f"resized (here {lores['here_ms']:.3f} ms a run; Pi 4 "
              "{:.1f} - {:.1f} ms a frame)".format(*lores['pi4_ms_per_frame']),
              "per-core figures from: " + "; ".join(f"{k}: {v}" for k, v in r["sources"].items())]
    return "\n".join(lines)
