"""Where FER2013's faces have their eyes, nose and mouth: the measurement behind ``align.TEMPLATE``.

Training faces are placed into larger pictures at known places (``placement``), found by YuNet,
and their five points mapped back through the known placement into the 48x48 crop; the median
of each point over the faces is the framing the appliance's crops copy.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pi_emotion.datasets import fer2013
from pi_emotion.datasets.placement import face_matrix, place, random_placement
from pi_emotion.results.boxes import largest

POINTS = ("right eye", "left eye", "nose tip", "right mouth corner", "left mouth corner")


def measure_framing(data: Path, faces: int = 1500, seed: int = 1, usage: str = "Training") -> dict:
    from pi_emotion.perception import detectors

    ds = fer2013.load(data, usage)
    rng = np.random.default_rng(seed)
    detector = detectors.create("yunet")
    points = []
    for i in rng.choice(len(ds), min(faces, len(ds)), replace=False):
        face = ds.images[i]
        where = random_placement(rng)
        picture = place(face, where)
        found = detector.detect_picture(picture, cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY))
        if not found:
            continue
        best = largest(found)
        back = cv2.invertAffineTransform(face_matrix(face.shape[0], where))
        points.append(np.hstack([np.array(best.landmarks), np.ones((5, 1))]) @ back.T)
    found = np.array(points)
    median = np.median(found, axis=0)
    # how much the dataset's own framing varies: the eyes-to-mouth distance, face to face
    size = np.linalg.norm(found[:, 3:5].mean(1) - found[:, 0:2].mean(1), axis=1)
    q1, q3 = np.percentile(size, [25, 75])
    return {"faces": int(min(faces, len(ds))), "found": len(found), "crop": int(ds.images.shape[1]),
            "median": {name: [round(float(x), 2), round(float(y), 2)] for name, (x, y) in zip(POINTS, median)},
            "scale_spread": round(float((q3 - q1) / np.median(size)), 3)}


def format_framing(r: dict) -> str:
    lines = [f"{r['found']} of {r['faces']} training faces found; median position in the {r['crop']}x{r['crop']} crop:"]
    lines += [f"  {name:<20}{x:7.2f}{y:7.2f}" for name, (x, y) in r["median"].items()]
    lines.append(f"eyes-to-mouth distance varies by {r['scale_spread']:.0%} (interquartile range / median)")
    return "\n".join(lines)
