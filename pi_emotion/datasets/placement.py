"""Dataset faces put back into larger pictures, as a camera would show them, to test the crop path.

FER2013's faces come already cropped, so evaluating on them says nothing about how the
appliance finds and frames a face. Each face here is enlarged, turned a little and set into a
wider picture whose surroundings are the face's own tones blurred; the seed fixes every choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CANVAS = (320, 240)  # width, height: a camera frame at the appliance's detection width


@dataclass(frozen=True)
class Placement:
    side: float  # pixels the 48-px face is enlarged to
    angle: float  # degrees, anticlockwise
    centre: tuple[float, float]


def random_placement(rng: np.random.Generator, side: tuple[float, float] = (72, 150),
                     angle: float = 10.0) -> Placement:
    s = float(rng.uniform(*side))
    w, h = CANVAS
    half = s * 0.75
    centre = (float(rng.uniform(half, w - half)), float(rng.uniform(half, h - half)))
    return Placement(s, float(rng.uniform(-angle, angle)), centre)


def face_matrix(face_size: int, p: Placement) -> np.ndarray:
    """The 2x3 map from the dataset face's pixels to the picture's."""
    scale = p.side / face_size
    m = cv2.getRotationMatrix2D((face_size / 2, face_size / 2), p.angle, scale)
    m[:, 2] += np.array(p.centre) - np.array([face_size / 2, face_size / 2])
    return m


def place(face: np.ndarray, p: Placement) -> np.ndarray:
    """A BGR picture of ``CANVAS`` size with the grey ``face`` in it as ``p`` says."""
    w, h = CANVAS
    background = cv2.GaussianBlur(cv2.resize(face, (w, h), interpolation=cv2.INTER_LINEAR), (0, 0), 25)
    picture = cv2.warpAffine(face, face_matrix(face.shape[0], p), (w, h), dst=background.copy(),
                             flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_TRANSPARENT)
    return cv2.cvtColor(picture, cv2.COLOR_GRAY2BGR)
