"""The real pipeline's speed, CPU, memory and start-up, as numbers.

After a warm-up it runs the configured pipeline (annotating every frame, writing events
to a scratch file, no display) and reports fps, CPU per frame, per-stage median/p95,
faces per frame, resident memory and time from process start to the first processed
frame. With TensorFlow installed it also runs the tutorial pipeline (Haar on the full
frame, Keras ``model.predict`` per face) on the same frames, for reference.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from pi_emotion import paths
from pi_emotion.bench.pipeline import Sink, boot_seconds_at_process_start, rss_mb

WARMUP = 20


def run_bench(settings, frames: int, keras_model: Path | None) -> dict:
    from pi_emotion.outputs.events import EventsWriter
    from pi_emotion.runtime.app import build_classifier, build_detector, build_pipeline
    from pi_emotion.sources import open_source
    from pi_emotion.sources.base import SourceSettings

    detector = build_detector(settings)
    classifier = build_classifier(settings)
    source = open_source(SourceSettings(settings.source, settings.width, settings.height, settings.fps,
                                        loop=True, realtime=False))
    with tempfile.TemporaryDirectory() as scratch:
        events = EventsWriter(Path(scratch) / "events.jsonl")
        pipeline = build_pipeline(settings, source, detector, classifier, [events, Sink()])
        pipeline.max_frames = WARMUP
        first_frame_at: list[float] = []
        pipeline.hooks.append(lambda result, stats: first_frame_at or first_frame_at.append(
            time.clock_gettime(time.CLOCK_BOOTTIME)))
        pipeline.run()
        startup = first_frame_at[0] - boot_seconds_at_process_start()
        measured = build_pipeline(settings, source, detector, classifier, [events, Sink()])
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
              "faces_per_frame": round(stats.faces / stats.frames, 3), "rss_mb": round(rss_mb(), 1),
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
