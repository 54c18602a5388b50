"""YuNet (OpenCV's ``FaceDetectorYN``, a 230 kB CNN): small, dim and turned faces, with five landmarks.

It takes a BGR picture; the frame is scaled to ``detect_width`` first. The landmarks let the
crop be levelled and framed as the model's training faces are.
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

TOP_K = 100  # most faces kept per frame, after non-maximum suppression


@dataclass(frozen=True)
class YuNetOptions(DetectorOptions):
    model: Path = field(default_factory=lambda: paths.shipped(paths.YUNET))  # YuNet ONNX file
    score_threshold: float = 0.6  # confidence a face needs
    nms_threshold: float = 0.3  # overlap above which two boxes are one face


class YuNetDetector(Detector):
    name = "yunet"
    landmarks = True

    def __init__(self, options: YuNetOptions) -> None:
        model = options.model
        if not hasattr(cv2, "FaceDetectorYN"):
            raise UserError(f"OpenCV {cv2.__version__} has no FaceDetectorYN (YuNet needs OpenCV >= 4.8): "
                            "pip install 'opencv-python-headless>=4.8,<5', or use --detector haar")
        if not model.is_file():
            raise UserError(f"face detector model {model} not found")
        try:
            self._net = cv2.FaceDetectorYN.create(str(model), "", (320, 240), options.score_threshold,
                                                    options.nms_threshold, TOP_K)
        except cv2.error as exc:
            raise UserError(f"face detector model {model} is not a valid YuNet ONNX file "
                            f"({str(exc).strip().splitlines()[-1]})") from None
        self.detect_width = options.detect_width
        self.min_face = options.min_face
        self._input_size = (320, 240)

    def detect(self, image: np.ndarray, grey: np.ndarray, width: int | None = None,
               min_face: int | None = None) -> list[Detection]:
        smallest = min_face or self.min_face
        small, back = scaled_copy(image, width or self.detect_width)
        size = (small.shape[1], small.shape[0])
        if size != self._input_size:
            self._net.setInputSize(size)
            self._input_size = size
        _, rows = self._net.detect(small)
        if rows is None:
            return []
        height, width_full = image.shape[:2]
        out = []
        for row in rows:
            if min(row[2], row[3]) < smallest:
                continue
            # A face at the edge of the picture gets a box that reaches past it: keep the visible part.
            x0, y0 = max(0.0, row[0] * back), max(0.0, row[1] * back)
            x1, y1 = min(float(width_full), (row[0] + row[2]) * back), min(float(height), (row[1] + row[3]) * back)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            points = tuple((float(px) * back, float(py) * back) for px, py in row[4:14].reshape(5, 2))
            box = (round(x0), round(y0), round(x1 - x0), round(y1 - y0))
            out.append(Detection(box, float(row[14]), points))
        return out


def create(options: YuNetOptions | None = None) -> YuNetDetector:
    return YuNetDetector(options or YuNetOptions())
