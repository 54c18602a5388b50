"""Face detection with an OpenCV Haar cascade on a downscaled grey frame.

Detection dominates a frame's cost and grows with pixel count, so it runs on a copy
scaled to ``detect_width``; boxes are scaled back, squared with a margin (FER2013
crops show the whole face, a little more than the cascade's box) and clipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pi_emotion.errors import UserError

Box = tuple[int, int, int, int]  # x, y, w, h in full-frame pixels


@dataclass(frozen=True)
class DetectorSettings:
    cascade: Path
    detect_width: int = 320
    scale_factor: float = 1.25
    min_neighbors: int = 3
    min_face: int = 24  # pixels, at detection scale
    margin: float = 0.1  # fraction of the box added on each side


class FaceDetector:
    """Loads the cascade once; ``detect`` is called per frame."""

    def __init__(self, settings: DetectorSettings) -> None:
        if not settings.cascade.is_file():
            raise UserError(f"face cascade {settings.cascade} not found")
        try:
            self._cascade = cv2.CascadeClassifier(str(settings.cascade))
        except (cv2.error, SystemError):
            self._cascade = None
        if self._cascade is None or self._cascade.empty():
            raise UserError(f"face cascade {settings.cascade} is not a valid OpenCV cascade XML")
        self.settings = settings

    def detect(self, grey: np.ndarray, full_size: tuple[int, int] | None = None) -> list[Box]:
        """Boxes in the coordinates of a ``full_size`` (w, h) frame; ``grey`` may be smaller (a lores stream)."""
        s = self.settings
        gh, gw = grey.shape[:2]
        fw, fh = full_size or (gw, gh)
        factor = min(1.0, s.detect_width / gw)
        small = grey if factor == 1.0 else cv2.resize(grey, (round(gw * factor), round(gh * factor)),
                                                      interpolation=cv2.INTER_AREA)
        small = cv2.equalizeHist(small)
        found = self._cascade.detectMultiScale(small, scaleFactor=s.scale_factor, minNeighbors=s.min_neighbors,
                                               minSize=(s.min_face, s.min_face))
        to_full = fw / small.shape[1], fh / small.shape[0]
        return [square_box(x * to_full[0], y * to_full[1], w * to_full[0], h * to_full[1], s.margin, fw, fh)
                for x, y, w, h in found]


def square_box(x: float, y: float, w: float, h: float, margin: float, frame_w: int, frame_h: int) -> Box:
    """A square around the box's centre, grown by ``margin`` per side, kept inside the frame."""
    side = max(w, h) * (1 + 2 * margin)
    side = min(side, frame_w, frame_h)
    cx, cy = x + w / 2, y + h / 2
    left = int(round(min(max(cx - side / 2, 0), frame_w - side)))
    top = int(round(min(max(cy - side / 2, 0), frame_h - side)))
    side_i = int(side)
    return left, top, side_i, side_i
