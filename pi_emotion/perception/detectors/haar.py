"""OpenCV's Haar cascade, the classic detector of the original design: frontal faces, no landmarks.

It runs on the grey image (a lores stream's Y plane costs nothing), histogram-equalised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from pi_emotion import paths
from pi_emotion.errors import UserError
from pi_emotion.perception.detectors.base import Detector, DetectorOptions, scaled_copy
from pi_emotion.results.frame import Detection

CASCADE_WINDOW = 20  # the shipped cascade's own window: it finds nothing smaller


@dataclass(frozen=True)
class HaarOptions(DetectorOptions):
    cascade: Path = field(default_factory=lambda: paths.shipped(paths.CASCADE))  # OpenCV cascade XML
    scale_factor: float = 1.25  # cascade scale step
    min_neighbors: int = 3  # cascade detections needed to accept a face


class HaarDetector(Detector):
    name = "haar"
    landmarks = False

    def __init__(self, options: HaarOptions) -> None:
        cascade = options.cascade
        if not cascade.is_file():
            raise UserError(f"face cascade {cascade} not found")
        try:
            self._cascade = cv2.CascadeClassifier(str(cascade))
        except (cv2.error, SystemError, AttributeError):
            self._cascade = None
        if self._cascade is None or self._cascade.empty():
            raise UserError(f"face cascade {cascade} is not a valid OpenCV cascade XML")
        self.detect_width = options.detect_width
        self.scale_factor = options.scale_factor
        self.min_neighbors = options.min_neighbors
        self.min_face = max(options.min_face, CASCADE_WINDOW)

    def detect(self, image: np.ndarray, grey: np.ndarray, width: int | None = None,
               min_face: int | None = None) -> list[Detection]:
        smallest = max(min_face or self.min_face, CASCADE_WINDOW)
        small, _ = scaled_copy(grey, width or self.detect_width)
        small = cv2.equalizeHist(small)
        found = self._cascade.detectMultiScale(small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                                               minSize=(smallest, smallest))
        fx, fy = image.shape[1] / small.shape[1], image.shape[0] / small.shape[0]
        return [Detection((round(x * fx), round(y * fy), round(w * fx), round(h * fy))) for x, y, w, h in found]


def create(options: HaarOptions | None = None) -> HaarDetector:
    return HaarDetector(options or HaarOptions())
