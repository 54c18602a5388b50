"""Face crops framed as the model's training faces are framed.

FER2013's 48x48 faces are cropped tight, eyes level. Measured with YuNet on its training faces
placed back into larger pictures (``pi-emotion bench --framing``), the eyes sit at 38% of the
crop's height, 38% of its width apart, the mouth at 75%. A face with landmarks is turned so its eyes are
level, then scaled and placed so its five points fall where those faces have theirs; a face
with only a box gets a square around it with a margin.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from pi_emotion.results.frame import Detection

# Where FER2013's faces have their five points, as fractions of the crop's width and height
# (the person's right eye, left eye, nose tip, right and left mouth corner), made symmetric.
TEMPLATE = np.array([[14.33, 18.3], [32.67, 18.3], [23.5, 28.1], [16.0, 36.2], [31.0, 36.2]]) / 48.0


def crop_matrix(det: Detection, size: tuple[int, int], margin: float) -> np.ndarray:
    """The 2x3 affine map from frame pixels to the crop's pixels (``size`` is width, height)."""
    w, h = size
    if det.landmarks is not None:
        return _landmark_matrix(np.asarray(det.landmarks, np.float64), TEMPLATE * (w, h))
    x, y, bw, bh = det.box
    side = max(bw, bh) * (1 + 2 * margin)
    cx, cy = x + bw / 2, y + bh / 2
    sx, sy = w / side, h / side
    return np.array([[sx, 0.0, w / 2 - cx * sx], [0.0, sy, h / 2 - cy * sy]])


def _landmark_matrix(points: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotate about the eyes until they are level, then the least-squares scale and shift onto ``target``."""
    (rx, ry), (lx, ly) = points[0], points[1]
    angle = math.atan2(ly - ry, lx - rx)
    c, s = math.cos(-angle), math.sin(-angle)
    rot = np.array([[c, -s], [s, c]])
    turned = points @ rot.T
    p0, q0 = turned - turned.mean(0), target - target.mean(0)
    scale = float((p0 * q0).sum() / max((p0 * p0).sum(), 1e-9))
    shift = target.mean(0) - scale * turned.mean(0)
    return np.hstack([scale * rot, shift[:, None]])


def crop(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The crop ``matrix`` describes, anti-aliased: a large face is first shrunk by area, then warped.

    Only the face's own region is shrunk, so the cost does not grow with the frame.
    """
    w, h = size
    scale = math.sqrt(abs(np.linalg.det(matrix[:, :2])))
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64) @ inverse.T
    x0, y0 = np.floor(corners.min(0)).astype(int)
    x1, y1 = np.ceil(corners.max(0)).astype(int)
    ih, iw = image.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, iw), min(y1, ih)
    if x1 - x0 < 2 or y1 - y0 < 2:  # the face lies outside the picture: nothing to see
        return np.zeros((h, w) + image.shape[2:], image.dtype)
    region = image[y0:y1, x0:x1]
    shrink = min(1.0, 2 * scale)  # leave at most a 2:1 reduction to the warp, which does not average
    if shrink < 1.0:
        rw, rh = max(1, round((x1 - x0) * shrink)), max(1, round((y1 - y0) * shrink))
        region = cv2.resize(region, (rw, rh), interpolation=cv2.INTER_AREA)
        fx, fy = rw / (x1 - x0), rh / (y1 - y0)
    else:
        fx = fy = 1.0
    # frame point p = (q / f) + origin for a point q of the region; fold that into the map
    local = matrix.copy()
    local[:, 2] += matrix[:, :2] @ np.array([x0, y0], np.float64)
    local[:, 0] /= fx
    local[:, 1] /= fy
    return cv2.warpAffine(region, local, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def face_crop(image: np.ndarray, det: Detection, size: tuple[int, int], margin: float) -> np.ndarray:
    """``det``'s face from ``image``, ``size`` pixels, framed like the training data."""
    return crop(image, crop_matrix(det, size, margin), size)


def turn_of(landmarks: tuple[tuple[float, float], ...]) -> float:
    """How turned a face is: the nose tip's distance from the eyes' midline, in eye-distances.

    About 0 for a frontal face, 0.15-0.3 for a three-quarter view, 0.5 and more towards a
    profile; tilt does not count (the distance is measured along the eye line).
    """
    (rx, ry), (lx, ly), (nx, ny) = landmarks[0], landmarks[1], landmarks[2]
    ex, ey = lx - rx, ly - ry
    eyes = math.hypot(ex, ey)
    if eyes < 1e-6:
        return 1.0
    mx, my = (rx + lx) / 2, (ry + ly) / 2
    return abs((nx - mx) * ex + (ny - my) * ey) / eyes ** 2
