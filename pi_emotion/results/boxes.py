"""Geometry of face boxes: overlap, merging the boxes of one face, the biggest face of a picture."""

from __future__ import annotations

from pi_emotion.results.frame import Box, Detection

MERGE_IOU = 0.4  # boxes from two passes overlapping this much are one face


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = min(ax + aw, bx + bw) - max(ax, bx)
    h = min(ay + ah, by + bh) - max(ay, by)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (aw * ah + bw * bh - inter)


def merge(detections: list[Detection], min_iou: float = MERGE_IOU) -> list[Detection]:
    """One detection per face: the most confident of each group of overlapping boxes."""
    kept: list[Detection] = []
    for det in sorted(detections, key=lambda d: d.score, reverse=True):
        if all(iou(det.box, k.box) < min_iou for k in kept):
            kept.append(det)
    return kept


def largest(found: list[Detection]) -> Detection:
    """The biggest of a picture's faces: the one a picture of a single person shows."""
    return max(found, key=lambda d: d.box[2] * d.box[3])
