"""Face detectors behind one interface, one file each, picked by name from the configuration.

A detector turns a frame into face ``Detection``s in full-frame pixels. Adding one is adding
a file with a ``create(settings)`` function and naming it in ``DETECTORS``; nothing else
changes. Implementations are imported only when picked.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from pi_emotion.results import Box, Detection

if TYPE_CHECKING:  # the configuration reads the names here, so this module stays light
    import numpy as np

    from pi_emotion.config import Settings

DETECTORS = {"haar": "pi_emotion.detectors.haar", "yunet": "pi_emotion.detectors.yunet"}
PICTURE_WIDTHS = (1600, 400)  # still pictures: a fine pass for small faces and a coarse one for close-ups
MERGE_IOU = 0.4  # boxes from two passes overlapping this much are one face


class Detector(ABC):
    """What every face detector offers."""

    name: str
    landmarks: bool  # whether its detections carry the five face points

    @abstractmethod
    def detect(self, image: np.ndarray, grey: np.ndarray, width: int | None = None) -> list[Detection]:
        """Faces in a BGR ``image``; ``grey`` is the same picture in grey, possibly smaller (a lores stream).

        Detection runs on a copy ``width`` pixels wide (default: the configured ``detect_width``);
        boxes and landmarks come back in ``image``'s pixels.
        """

    def detect_picture(self, image: np.ndarray, grey: np.ndarray) -> list[Detection]:
        """A still picture: time does not matter, so look at sizes that suit it, not one fixed width.

        Faces from a few dozen pixels to the whole picture are found by a fine and a coarse pass,
        merged where they overlap.
        """
        width = image.shape[1]
        passes = sorted({min(width, w) for w in PICTURE_WIDTHS}, reverse=True)
        found: list[Detection] = []
        for w in passes:
            found += self.detect(image, grey, w)
        return merge(found)


def merge(detections: list[Detection], min_iou: float = MERGE_IOU) -> list[Detection]:
    """One detection per face: the most confident of each group of overlapping boxes."""
    kept: list[Detection] = []
    for det in sorted(detections, key=lambda d: d.score, reverse=True):
        if all(iou(det.box, k.box) < min_iou for k in kept):
            kept.append(det)
    return kept


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


def scaled_copy(image: np.ndarray, width: int) -> tuple[np.ndarray, float]:
    """``image`` at most ``width`` pixels wide, and the factor from its pixels back to ``image``'s."""
    import cv2

    h, w = image.shape[:2]
    if width >= w:
        return image, 1.0
    small = cv2.resize(image, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    return small, w / width


def create(settings: Settings) -> Detector:
    """The detector the settings name, loaded once (model files are read here, not per frame)."""
    return importlib.import_module(DETECTORS[settings.detector]).create(settings)
