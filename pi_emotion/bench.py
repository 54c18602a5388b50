"""``pi-emotion bench``: the real pipeline's speed, CPU, memory and start-up, as numbers.

After a warm-up it runs the configured pipeline (annotating every frame, writing events
to a scratch file, no display) and reports fps, CPU per frame, per-stage median/p95,
faces per frame, resident memory and time from process start to the first processed
frame. With TensorFlow installed it also runs the tutorial pipeline (Haar on the full
frame, Keras ``model.predict`` per face) on the same frames, for reference.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from pi_emotion import paths
from pi_emotion.errors import UserError

WARMUP = 20


def _boot_seconds_at_process_start() -> float:
    with open("/proc/self/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 (starttime), counted after the comm field


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class _Sink:
    """Takes the annotated picture like a display would, and drops it."""

    needs_image = True

    def write(self, image, result) -> None:
        pass

    def close(self) -> None:
        pass


@contextmanager
def served_pipeline(settings, frames: int):
    """The pipeline on a looping file with the browser view on a free loopback port, torn down after."""
    from pi_emotion.app import build_classifier, build_detector, build_pipeline, status
    from pi_emotion.sources import SourceSettings, open_source
    from pi_emotion.stream.hub import FrameHub, StreamOutput
    from pi_emotion.stream.server import StreamServer

    source = open_source(SourceSettings(settings.source, loop=True))
    classifier = build_classifier(settings)
    hub = FrameHub(max_clients=settings.stream_max_clients)
    pipeline = build_pipeline(settings, source, build_detector(settings), classifier, [StreamOutput(hub)])
    pipeline.max_frames = frames
    server = StreamServer(hub, ("127.0.0.1", 0), "", lambda: status(pipeline, source, classifier))
    server.start()
    try:
        yield pipeline, hub, server.address[1]
    finally:
        server.close()
        hub.close()
        source.close()


CLIENT_SCRIPT = """
import http.client, sys, threading
def watch():
    conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
    conn.request("GET", "/stream.mjpg")
    resp = conn.getresponse()
    while resp.read(65536):
        pass
for _ in range(int(sys.argv[2])):
    threading.Thread(target=watch, daemon=True).start()
sys.stdin.read()
"""


def stream_clients_cost(settings, frames: int, counts: tuple[int, ...]) -> list[dict]:
    """CPU per frame of the appliance process with 0, 1, 10, ... viewers (in another process)."""
    import subprocess
    import sys

    rows = []
    for n in counts:
        with served_pipeline(settings, frames) as (pipeline, hub, port):
            viewers = subprocess.Popen([sys.executable, "-c", CLIENT_SCRIPT, str(port), str(n)],
                                       stdin=subprocess.PIPE)
            try:
                while hub.stream_clients < n:
                    hub.next_jpeg(0, 0.05)  # wait for the viewers to connect
                cpu0, wall0 = time.process_time(), time.perf_counter()
                stats = pipeline.run()
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            finally:
                viewers.kill()
                viewers.wait()
            rows.append({"clients": n, "frames": stats.frames, "fps": round(stats.frames / wall, 1),
                         "cpu_ms_per_frame": round(1000 * cpu / stats.frames, 3), "jpegs": hub.encoded})
    return rows


def run_bench(settings, frames: int, keras_model: Path | None) -> dict:

    from pi_emotion.app import build_classifier, build_detector, build_pipeline
    from pi_emotion.outputs.events import EventsWriter
    from pi_emotion.sources import SourceSettings, open_source

    detector = build_detector(settings)
    classifier = build_classifier(settings)
    source = open_source(SourceSettings(settings.source, settings.width, settings.height, settings.fps,
                                        loop=True, realtime=False))
    with tempfile.TemporaryDirectory() as scratch:
        events = EventsWriter(Path(scratch) / "events.jsonl")
        pipeline = build_pipeline(settings, source, detector, classifier, [events, _Sink()])
        pipeline.max_frames = WARMUP
        first_frame_at: list[float] = []
        pipeline.hooks.append(lambda result, stats: first_frame_at or first_frame_at.append(
            time.clock_gettime(time.CLOCK_BOOTTIME)))
        pipeline.run()
        startup = first_frame_at[0] - _boot_seconds_at_process_start()
        measured = build_pipeline(settings, source, detector, classifier, [events, _Sink()])
        measured.max_frames = frames
        measured.tracker = pipeline.tracker
        cpu0, wall0 = time.process_time(), time.perf_counter()
        stats = measured.run()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        events.close()
    stages = {name: {"median_ms": round(v["median_ms"], 3), "p95_ms": round(v["p95_ms"], 3)}
              for name, v in stats.stages.summary().items()}
    if stats.faces:
        per_face = stats.stages.total["classify"] / stats.faces
        stages["classify_per_face"] = {"mean_ms": round(per_face, 3)}
    stages["encode"] = _jpeg_cost(source)
    report = {"source": settings.source, "frames": stats.frames, "fps": round(stats.frames / wall, 1),
              "cpu_ms_per_frame": round(1000 * cpu / stats.frames, 3), "stages": stages,
              "faces_per_frame": round(stats.faces / stats.frames, 3), "rss_mb": round(_rss_mb(), 1),
              "startup_s": round(startup, 3), "detect_every": settings.detect_every,
              "cv_threads": settings.cv_threads, "model_threads": settings.threads}
    source.close()
    if keras_model is not None:
        tutorial_fps = tutorial_pipeline_fps(settings.source, keras_model, min(frames, 120))
        report["tutorial_fps"] = round(tutorial_fps, 1)
        report["speedup"] = round(report["fps"] / tutorial_fps, 1)
    return report


def _jpeg_cost(source) -> dict:
    """What a stream viewer adds per frame: one JPEG encode (done off the loop, once for all viewers)."""
    import cv2

    frame = source.read()
    times = []
    for _ in range(50):
        start = time.perf_counter()
        cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        times.append((time.perf_counter() - start) * 1000)
    return {"median_ms": round(float(np.median(times)), 3), "p95_ms": round(float(np.percentile(times, 95)), 3)}


def tutorial_pipeline_fps(source_path: str, keras_model: Path, frames: int) -> float:
    """The common tutorial: default cascade on the full frame, ``model.predict`` for each face."""
    import cv2

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from pi_emotion.training.convert import ConvertOptions, describe, load_keras

    model = load_keras(keras_model)
    meta = describe(model, keras_model, ConvertOptions(keras_model, keras_model))
    cascade = cv2.CascadeClassifier(str(paths.shipped(paths.CASCADE)))
    cap = cv2.VideoCapture(source_path)
    w, h = meta.input_size
    done, start = 0, None
    while done < frames:
        ok, image = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        if done == 3:
            start = time.perf_counter()  # after Keras has traced its first calls
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        for x, y, fw, fh in cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(30, 30)):
            face = cv2.resize(grey[y:y + fh, x:x + fw], (w, h)).astype(np.float32) * meta.scale + meta.offset
            model.predict(face[None, :, :, None], verbose=0)
            cv2.rectangle(image, (x, y), (x + fw, y + fh), (0, 255, 0), 2)
        done += 1
    cap.release()
    return (frames - 3) / (time.perf_counter() - start)


def format_report(r: dict) -> str:
    lines = [f"source {r['source']}: {r['frames']} frames, detect every {r['detect_every']}, "
             f"OpenCV threads {r['cv_threads']}, model threads {r['model_threads']}",
             f"fps              {r['fps']}",
             f"CPU per frame    {r['cpu_ms_per_frame']} ms",
             f"faces per frame  {r['faces_per_frame']}",
             f"resident memory  {r['rss_mb']} MB",
             f"start-up         {r['startup_s']} s to the first processed frame",
             "stage              median ms   p95 ms"]
    for name, v in r["stages"].items():
        if "median_ms" in v:
            lines.append(f"  {name:<16}{v['median_ms']:>10.3f}{v['p95_ms']:>9.3f}")
        else:
            lines.append(f"  {name:<16}{v['mean_ms']:>10.3f}     (mean)")
    if "tutorial_fps" in r:
        lines.append(f"tutorial pipeline {r['tutorial_fps']} fps: this pipeline is {r['speedup']}x faster")
    return "\n".join(lines)


def main(argv: list[str], parser_class) -> int:
    from pi_emotion import config

    p = parser_class(prog="pi-emotion bench", description="Measure the pipeline's speed on a video.")
    p.add_argument("--source", help="video file (default: the bundled sample)")
    p.add_argument("--frames", type=int, default=300, help="frames to measure after the warm-up (default 300)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--config", type=Path, help="TOML config file whose settings to measure")
    p.add_argument("--detect-every", type=int, help="override the setting of that name")
    p.add_argument("--keras", type=Path, help="Keras model for the tutorial reference "
                   "(default: models/emotion.keras when TensorFlow is installed)")
    p.add_argument("--no-reference", action="store_true", help="skip the tutorial reference")
    p.add_argument("--stream-clients", metavar="N,N,...",
                   help="instead: CPU per frame with this many stream viewers each, e.g. 0,1,10")
    p.add_argument("--soak", action="store_true", help="soak test instead: stream on, clients coming and "
                   "going for --frames frames; memory, files and threads sampled")
    a = p.parse_args(argv)
    if a.frames < 1:
        raise UserError("--frames must be at least 1")
    source = a.source or str(paths.SAMPLE)
    if not Path(source).is_file():
        raise UserError(f"bench needs a video file: {source} not found (give --source)")
    flags = {"source": source}
    if a.detect_every:
        flags["detect_every"] = a.detect_every
    settings = config.resolve(flags, a.config)
    if a.stream_clients:
        try:
            counts = tuple(int(n) for n in a.stream_clients.split(","))
        except ValueError:
            raise UserError("--stream-clients: give counts like 0,1,10") from None
        rows = stream_clients_cost(settings, a.frames, counts)
        print(json.dumps(rows) if a.json else "\n".join(
            f"{r['clients']:>3} viewers: {r['cpu_ms_per_frame']:7.3f} ms CPU per frame, {r['fps']:6.1f} fps, "
            f"{r['jpegs']} JPEGs for {r['frames']} frames" for r in rows))
        return 0
    if a.soak:
        from pi_emotion.soak import print_soak, soak

        report = soak(settings, a.frames)
        print_soak(report, a.json)
        return 0 if report["flat"] else 1
    keras_model = None
    if not a.no_reference:
        import importlib.util

        # Looked up, not imported: TensorFlow must not weigh on the measured process until the reference runs.
        keras_model = a.keras or paths.shipped("emotion.keras")
        if importlib.util.find_spec("tensorflow") is None or not keras_model.is_file():
            keras_model = None
    report = run_bench(settings, a.frames, keras_model)
    print(json.dumps(report) if a.json else format_report(report))
    return 0
