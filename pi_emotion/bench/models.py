"""Classifiers against each other: latency per face on the same real crops, in one run, and work from the files.

Absolute times differ several times between machines, so a new model is compared with the
old one in one run on one machine: the rounds alternate between the models, so that a
machine that slows down or speeds up mid-run weighs on both alike. Each model is timed
as the appliance runs it: ``faces`` crops in one batch, once and with the mirrored faces.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from pi_emotion.errors import UserError
from pi_emotion.perception.classify import EmotionClassifier
from pi_emotion.perception.detectors import create as create_detector
from pi_emotion.perception.model_work import model_work
from pi_emotion.sources.video import VideoFileSource

WARMUP = 20  # rounds not timed: the runtime's first invokes allocate and pack weights


def real_faces(video: Path, faces: int) -> tuple[np.ndarray, list]:
    """The first frame of ``video`` in which YuNet finds at least ``faces`` faces, and those faces."""
    source = VideoFileSource(video)
    detector = create_detector("yunet")
    try:
        while (frame := source.read()) is not None:
            found = detector.detect(frame.image, frame.grey)
            if len(found) >= faces:
                return frame.image, found[:faces]
    finally:
        source.close()
    raise UserError(f"{video}: no frame shows {faces} faces; give fewer (--faces) or another --source")


def compare_models(models: list[Path], video: Path, faces: int, rounds: int, threads: int) -> list[dict]:
    """One row per model and way of running it: ms per face (mean, p95), and time and work as shares of the
    first model run with the mirror."""
    image, found = real_faces(video, faces)
    runs = []
    for path in models:
        for mirror in (False, True):
            classifier = EmotionClassifier(path, threads, tta=mirror)  # says which model is missing or broken
            runs.append((path, mirror, classifier, classifier.crops(image, found)))
    work = {path: model_work(path) for path in models}
    times: list[list[float]] = [[] for _ in runs]
    for round_ in range(WARMUP + rounds):
        for i, (_, _, classifier, crops) in enumerate(runs):
            t0 = time.perf_counter()
            classifier.predict(crops)
            if round_ >= WARMUP:
                times[i].append((time.perf_counter() - t0) * 1000 / faces)
    rows = []
    for (path, mirror, _, _), ms in zip(runs, times):
        macs, params = work[path].macs, work[path].params
        rows.append({"model": str(path), "mirror": mirror, "faces": faces, "ms_per_face": statistics.fmean(ms),
                     "p95_ms_per_face": float(np.percentile(ms, 95)), "macs": macs,
                     "macs_as_run": macs * (2 if mirror else 1), "params": params})
    reference = rows[1]  # the first model with the mirror: how the appliance runs its default model today
    for row in rows:
        row["time_ratio"] = row["ms_per_face"] / reference["ms_per_face"]
        row["work_ratio"] = row["macs_as_run"] / reference["macs_as_run"]
    return rows


def format_models(rows: list[dict]) -> str:
    lines = [f"{'model':<40}{'mirror':>7}{'M MAC/face':>12}{'ms/face':>9}{'p95':>7}{'time':>8}{'work':>8}"]
    for r in rows:
        lines.append(f"{Path(r['model']).name:<40}{'yes' if r['mirror'] else 'no':>7}{r['macs_as_run'] / 1e6:>12.2f}"
                     f"{r['ms_per_face']:>9.3f}{r['p95_ms_per_face']:>7.3f}{r['time_ratio']:>8.2f}"
                     f"{r['work_ratio']:>8.2f}")
    lines.append(f"{rows[0]['faces']} faces a batch, one run; time and work as shares of the first model with "
                 "the mirror")
    return "\n".join(lines)
