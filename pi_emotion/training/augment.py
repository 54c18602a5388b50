"""One training epoch's faces, targets and weights, drawn from the epoch's own seed.

Everything random in an epoch comes from a generator seeded with ``(seed, epoch)``: the
order, the geometry, the turns, the light, the camera conditions, the erased rectangles and the
mixup pairs. An interrupted run therefore resumes with exactly the augmentation it would
have had, with no generator state to save. NumPy and OpenCV only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from pi_emotion.datasets import camera_conditions
from pi_emotion.training.recipe import BATCH, TrainOptions

CONTRAST, BRIGHTNESS = 0.3, 0.2  # light jitter of every face: contrast factor 1 +/- 0.3, offset +/- 0.2 * 255
CHUNK = 1024  # faces augmented at a time
ERASE_AREA, ERASE_ASPECT = (0.02, 0.25), (0.3, 3.3)  # of the face's area; height / width
# A turned face, approximated in 2-D: its vertical midline moves up to this share of the
# width towards the far side, which is squeezed across and shrinks in height by up to
# TURN_FAR_HEIGHT; the near side widens.
TURN_MIDLINE, TURN_FAR_HEIGHT = 0.15, 0.1


@dataclass
class Epoch:
    faces: np.ndarray  # float32 (N, H, W, 1): what the network sees, normalised
    targets: np.ndarray  # float32 (N, classes), rows sum to 1
    weights: np.ndarray  # float32 (N,)


def geometry(faces: np.ndarray, rng: np.random.Generator, o: TrainOptions) -> np.ndarray:
    """Mirror half the faces; rotate, scale and shift each, borders filled by reflection."""
    n, h, w = faces.shape
    flip = rng.random(n) < 0.5
    angle = rng.uniform(-o.rotate, o.rotate, n)
    scale = 1 + rng.uniform(-o.zoom, o.zoom, n)
    dx, dy = rng.uniform(-o.shift, o.shift, (2, n)) * np.array([[w], [h]])
    out = np.empty_like(faces)
    for i in range(n):
        face = faces[i, :, ::-1] if flip[i] else faces[i]
        m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle[i], scale[i])
        m[:, 2] += (dx[i], dy[i])
        out[i] = cv2.warpAffine(face, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return out


def turned(face: np.ndarray, midline: float, far_height: float) -> np.ndarray:
    """``face`` as if turned: its midline moved by ``midline`` of the width (negative: left), the far side shortened.

    Each output column ``u`` (0..1 across) samples source column ``u + a u (1 - u)``: smooth,
    monotonic while ``|a| <= 1``, fixed at both edges, with ``a`` set so that the source's
    middle lands at ``0.5 + midline``. Borders are filled by reflection.
    """
    h, w = face.shape
    u = (np.arange(w, dtype=np.float32) + 0.5) / w
    a = -midline / (0.25 - midline * midline)
    source_x = (u + a * u * (1 - u)) * w - 0.5
    far = 1 - u if midline < 0 else u  # 1 at the far edge
    height = 1 - far_height * far
    cy = (h - 1) / 2
    source_y = cy + (np.arange(h, dtype=np.float32)[:, None] - cy) / height[None, :]
    map_x = np.broadcast_to(source_x[None, :], (h, w)).astype(np.float32)
    return cv2.remap(face, map_x, source_y.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def turn(faces: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """A ``share`` of the faces turned a little to a random side (``turned``), by a random amount."""
    n = len(faces)
    pick = rng.random(n) < share
    midline = rng.uniform(-TURN_MIDLINE, TURN_MIDLINE, n)
    far_height = rng.uniform(0, TURN_FAR_HEIGHT, n)
    out = faces.copy()
    for i in np.flatnonzero(pick):
        out[i] = turned(faces[i], midline[i], far_height[i])
    return out


def light(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mild contrast and brightness jitter of every face."""
    n = len(faces)
    x = faces.astype(np.float32)
    mean = x.mean(axis=(1, 2), keepdims=True)
    c = rng.uniform(1 - CONTRAST, 1 + CONTRAST, (n, 1, 1)).astype(np.float32)
    b = rng.uniform(-BRIGHTNESS, BRIGHTNESS, (n, 1, 1)).astype(np.float32) * 255
    return np.clip(np.rint(mean + c * (x - mean) + b), 0, 255).astype(np.uint8)


def camera(faces: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """A ``share`` of the faces through camera conditions drawn from the training ranges."""
    pick = rng.random(len(faces)) < share
    params = camera_conditions.draw(camera_conditions.TRAINING, rng, len(faces))
    out = faces.copy()
    for i in np.flatnonzero(pick):
        out[i] = camera_conditions.apply(faces[i], params, i)
    return out


def erase(faces: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """Random erasing: a ``share`` of the faces get a rectangle of random grey noise."""
    n, h, w = faces.shape
    pick = rng.random(n) < share
    area = rng.uniform(*ERASE_AREA, n) * h * w
    aspect = np.exp(rng.uniform(*np.log(ERASE_ASPECT), n))
    eh = np.clip(np.rint(np.sqrt(area * aspect)), 1, h).astype(int)
    ew = np.clip(np.rint(np.sqrt(area / aspect)), 1, w).astype(int)
    top = (rng.random(n) * (h - eh + 1)).astype(int)
    left = (rng.random(n) * (w - ew + 1)).astype(int)
    noise = rng.integers(0, 256, faces.shape, dtype=np.uint8)
    out = faces.copy()
    for i in np.flatnonzero(pick):
        out[i, top[i]:top[i] + eh[i], left[i]:left[i] + ew[i]] = noise[i, top[i]:top[i] + eh[i],
                                                                       left[i]:left[i] + ew[i]]
    return out


def mixup(x: np.ndarray, y: np.ndarray, w: np.ndarray, rng: np.random.Generator,
          alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each batch mixed with a shuffled copy of itself, one Beta(alpha, alpha) share per batch."""
    for start in range(0, len(x), BATCH):
        sl = slice(start, start + BATCH)
        lam = np.float32(rng.beta(alpha, alpha))
        perm = start + rng.permutation(len(x[sl]))
        x[sl] = lam * x[sl] + (1 - lam) * x[perm]
        y[sl] = lam * y[sl] + (1 - lam) * y[perm]
        w[sl] = lam * w[sl] + (1 - lam) * w[perm]
    return x, y, w


def make_epoch(faces: np.ndarray, targets: np.ndarray, weights: np.ndarray, o: TrainOptions, epoch: int,
               normalise: Callable[[np.ndarray], np.ndarray]) -> Epoch:
    """Epoch ``epoch`` (0-based): whole batches of augmented faces, in this epoch's order."""
    rng = np.random.default_rng([o.seed, epoch])
    steps = len(faces) // BATCH
    order = rng.permutation(len(faces))[: steps * BATCH]
    x = np.empty((len(order), *faces.shape[1:], 1), np.float32)
    for start in range(0, len(order), CHUNK):  # in chunks, so each step works in the CPU's cache
        chunk = geometry(faces[order[start:start + CHUNK]], rng, o)
        if o.turn:
            chunk = turn(chunk, rng, o.turn)
        chunk = light(chunk, rng)
        if o.camera:
            chunk = camera(chunk, rng, o.camera)
        chunk = normalise(chunk)
        if o.erase:
            chunk = erase(chunk, rng, o.erase)
        x[start:start + CHUNK, ..., 0] = chunk
    y, w = targets[order].astype(np.float32), weights[order].astype(np.float32)
    if o.mixup:
        x, y, w = mixup(x, y, w, rng, o.mixup)
    return Epoch(x, y, w)
