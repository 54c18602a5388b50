"""What a Pi camera does to a face: dim and flat light, few pixels, sensor noise, JPEG.

One transform, drawn from ranges, serves two purposes: ``degrade`` makes the fixed,
seeded camera-condition copy of a dataset that ``pi-emotion evaluate --degrade``
scores, and training draws the same operations from wider ranges as augmentation.
NumPy and OpenCV only, so the appliance side can use it without TensorFlow.

The steps, in order, on a grey uint8 face of side S (48 for FER2013):

1. flatten: ``x = m + c * (x - m)`` around the face's mean ``m`` (contrast ``c``);
2. darken: ``x = 255 * b * (x / 255) ** g`` (exposure ``b``, gamma ``g``);
3. shrink to ``size`` x ``size`` pixels (area interpolation, as a small face on a sensor);
4. blur with a Gaussian of sigma ``blur`` (small-face pixels; 0: none);
5. sensor noise: Gaussian, sigma ``noise`` grey levels, then rounded to 0..255;
6. JPEG at quality ``jpeg`` (100: none), at the small size, as the camera encodes it;
7. back to S x S, bilinear, as the appliance's crop enlarges a small face.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import cv2
import numpy as np


@dataclass(frozen=True)
class Conditions:
    """Ranges (low, high) from which each face's parameters are drawn uniformly."""

    contrast: tuple[float, float]
    exposure: tuple[float, float]
    gamma: tuple[float, float]
    size: tuple[int, int]  # pixels across the face (inclusive)
    blur: tuple[float, float]
    noise: tuple[float, float]
    jpeg: tuple[int, int]  # quality (inclusive)


@dataclass(frozen=True)
class Params:
    """One face's draw; arrays of one value per face."""

    contrast: np.ndarray
    exposure: np.ndarray
    gamma: np.ndarray
    size: np.ndarray
    blur: np.ndarray
    noise: np.ndarray
    jpeg: np.ndarray
    seed: np.ndarray  # of each face's noise


_INTEGER = ("size", "jpeg")
# The evaluation copy: a dim room with flat light (the face one to two stops under-exposed,
# half to four fifths of its contrast), faces 20-32 px across, a sensor at high gain, JPEG
# at the qualities of webcam MJPEG and streaming.
EVALUATION = Conditions(contrast=(0.5, 0.8), exposure=(0.3, 0.6), gamma=(1.0, 1.4), size=(20, 32),
                        blur=(0.0, 0.0), noise=(2.0, 5.0), jpeg=(50, 90))
# Training: from nearly clean to darker, smaller and noisier than the evaluation copy.
TRAINING = Conditions(contrast=(0.3, 1.0), exposure=(0.12, 1.0), gamma=(0.8, 1.8), size=(16, 48),
                      blur=(0.0, 1.0), noise=(0.0, 8.0), jpeg=(30, 95))


def draw(conditions: Conditions, rng: np.random.Generator, n: int) -> Params:
    """Parameters for ``n`` faces."""
    values = {}
    for f in fields(Conditions):
        lo, hi = getattr(conditions, f.name)
        values[f.name] = rng.integers(lo, hi + 1, size=n) if f.name in _INTEGER else rng.uniform(lo, hi, size=n)
    return Params(**values, seed=rng.integers(0, 2**63, size=n))


def apply(face: np.ndarray, p: Params, i: int) -> np.ndarray:
    """Face ``face`` (grey uint8, H x W) as the camera would deliver it under draw ``i`` of ``p``."""
    h, w = face.shape
    x = face.astype(np.float32)
    m = x.mean()
    x = m + p.contrast[i] * (x - m)
    x = 255.0 * p.exposure[i] * (np.clip(x, 0, 255) / 255.0) ** p.gamma[i]
    side = int(p.size[i])
    if side < min(h, w):
        x = cv2.resize(x, (side, side), interpolation=cv2.INTER_AREA)
    if p.blur[i] > 0.05:
        x = cv2.GaussianBlur(x, (0, 0), float(p.blur[i]))
    if p.noise[i] > 0:
        x = x + np.random.default_rng(p.seed[i]).normal(0.0, p.noise[i], x.shape).astype(np.float32)
    small = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    if p.jpeg[i] < 100:
        ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, int(p.jpeg[i])])
        small = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    if small.shape != (h, w):
        small = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return small


def degrade(faces: np.ndarray, seed: int = 0, conditions: Conditions = EVALUATION) -> np.ndarray:
    """The camera-condition copy of grey uint8 faces (N, H, W).

    Face ``i`` gets the draw of a generator seeded with ``(seed, i)``, so a face's copy does
    not depend on the other faces, the batch or the order of work.
    """
    out = np.empty_like(faces)
    for i, face in enumerate(faces):
        p = draw(conditions, np.random.default_rng([seed, i]), 1)
        out[i] = apply(face, p, 0)
    return out
