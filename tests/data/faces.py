"""Where the faces are in the public-domain photographs, and the ground truth the samples are scored on.

Face boxes (x, y, w, h) were found by YuNet at full resolution and checked by eye; the sample
scripts move them with the pictures, so the benchmark knows which faces each frame shows.
"""

import json
from pathlib import Path

import numpy as np

PHOTO_FACES = {
    "obama-480p.jpg": [(391, 38, 101, 149)],
    "biden.jpg": [(429, 176, 276, 382)],
    "two_people.jpg": [(234, 21, 150, 204), (790, 49, 147, 207)],
}
VISIBLE = 0.7  # a face counts as visible when this share of its box is inside the frame


def moved_box(box, matrix) -> tuple[float, float, float, float]:
    """The upright box around ``box`` after the 2x3 affine ``matrix``."""
    x, y, w, h = box
    corners = np.array([[x, y, 1], [x + w, y, 1], [x, y + h, 1], [x + w, y + h, 1]], float) @ np.asarray(matrix).T
    (x0, y0), (x1, y1) = corners.min(0), corners.max(0)
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


def visible_part(box, size):
    """The part of ``box`` inside a ``size`` (w, h) frame, or None when less than ``VISIBLE`` of it is."""
    x, y, w, h = box
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, size[0]), min(y + h, size[1])
    if x1 <= x0 or y1 <= y0 or (x1 - x0) * (y1 - y0) < VISIBLE * w * h:
        return None
    return [round(x0), round(y0), round(x1 - x0), round(y1 - y0)]


def write_truth(path: Path, fps: float, frames: list[list[list[int]]]) -> None:
    path.write_text(json.dumps({"fps": fps, "frames": frames}, separators=(",", ":")) + "\n")
