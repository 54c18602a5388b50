"""What every face detector offers, and the options every detector takes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pi_emotion.results.boxes import merge

if TYPE_CHECKING:
    import numpy as np

    from pi_emotion.results.frame import Detection

PICTURE_WIDTHS = (1600, 400)  # still pictures: a fine pass for small faces and a coarse one for close-ups


@dataclass(frozen=True)
class DetectorOptions:
    """Knobs every detector has; each detector's own options add to these."""

    detect_width: int = 320  # the frame is scaled to this width for detection
    min_face: int = 20  # smallest face, in pixels at the detection width


class Detector(ABC):
    """What every face detector offers."""

    name: str
    landmarks: bool  # whether its detections carry the five face points
    detect_width: int  # the width frames are scaled to for detection
    min_face: int  # the smallest face it reports, in pixels at the detection width

    @abstractmethod
    def detect(self, image: np.ndarray, grey: np.ndarray, width: int | None = None,
               min_face: int | None = None) -> list[Detection]:
        """Faces in a BGR ``image``; ``grey`` is the same picture in grey, possibly smaller (a lores stream).

        Detection runs on a copy ``width`` pixels wide (default: the configured ``detect_width``),
        reporting faces of ``min_face`` pixels there or more (default: the configured one); boxes
        and landmarks come back in ``image``'s pixels.
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


def scaled_copy(image: np.ndarray, width: int) -> tuple[np.ndarray, float]:
    """``image`` at most ``width`` pixels wide, and the factor from its pixels back to ``image``'s."""
    import cv2

    h, w = image.shape[:2]
    if width >= w:
        return image, 1.0
    small = cv2.resize(image, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    return small, w / width
