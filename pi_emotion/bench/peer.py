"""CPU per frame against a peer: the ``fer`` package (Haar cascade and its mini-Xception), same frames, one run.

Per-core speed differs several times between machines, so only a ratio measured in one run on
one machine says how much lighter this pipeline is. Both sides are timed the same way: process
CPU (all threads) over the same number of frames of the same video, decoding included.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

from pi_emotion.bench.speed import run_bench
from pi_emotion.errors import UserError

# fer's declared moviepy, pandas and opencv-contrib are not needed for FER().detect_emotions(frame).
FER_INSTALL = ('pip install --no-deps fer==25.10.3 && pip install tensorflow-cpu tf-keras "opencv-python-headless<5" '
               'requests "setuptools<81" Pillow tqdm')
WARMUP = 5


def load_fer():
    """fer's detector. Imported only after this pipeline is measured: TensorFlow must not weigh on it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from fer.fer import FER

    return FER()


def fer_cpu_ms(detector, video: Path, frames: int) -> tuple[float, float]:
    """fer's CPU per frame in ms and faces per frame, frame by frame as it comes (the video loops)."""
    import cv2

    cap = cv2.VideoCapture(str(video))

    def frame():
        ok, image = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = cap.read()
        return image

    for _ in range(WARMUP):
        detector.detect_emotions(frame())
    faces = 0
    cpu0 = time.process_time()
    for _ in range(frames):
        faces += len(detector.detect_emotions(frame()))
    cpu = time.process_time() - cpu0
    cap.release()
    return 1000 * cpu / frames, faces / frames


def peer_rows(settings_for, videos: list[Path], frames: int) -> list[dict]:
    """One row per video: this pipeline's and fer's CPU per frame, and their ratio."""
    if importlib.util.find_spec("fer") is None:
        raise UserError(f"--peer fer needs the fer package in this environment: {FER_INSTALL}")
    ours_by_video = {video: run_bench(settings_for(video), frames, None) for video in videos}
    detector = load_fer()
    rows = []
    for video, ours in ours_by_video.items():
        fer_ms, fer_faces = fer_cpu_ms(detector, video, frames)
        rows.append({"source": str(video), "frames": frames, "cpu_ms_per_frame": ours["cpu_ms_per_frame"],
                     "faces_per_frame": ours["faces_per_frame"], "fer_cpu_ms_per_frame": round(fer_ms, 3),
                     "fer_faces_per_frame": round(fer_faces, 3),
                     "ratio": round(fer_ms / ours["cpu_ms_per_frame"], 1)})
    return rows


def format_peer(rows: list[dict]) -> str:
    lines = [f"{'source':<28}{'frames':>7}{'ms/frame':>10}{'faces':>7}{'fer ms':>9}{'faces':>7}{'fer/this':>10}"]
    for r in rows:
        lines.append(f"{Path(r['source']).name:<28}{r['frames']:>7}{r['cpu_ms_per_frame']:>10.2f}"
                     f"{r['faces_per_frame']:>7.2f}{r['fer_cpu_ms_per_frame']:>9.2f}{r['fer_faces_per_frame']:>7.2f}"
                     f"{r['ratio']:>9.1f}x")
    return "\n".join(lines)
