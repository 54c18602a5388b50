"""Following faces between and across detections: ids, motion, and smoothed labels.

Each face is a track with a constant-velocity Kalman filter (OpenCV's) on its box, so its box
moves on frames where detection is skipped or misses. Detections are matched to tracks by
overlap and distance with an optimal assignment; a track is forgotten after ``hold`` seconds
without a detection, measured on the frames' own clock, so neither ``--detect-every`` nor the
frame rate changes when a face is dropped.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from pi_emotion.results.boxes import iou
from pi_emotion.results.frame import UNCERTAIN, Box, Detection

HYSTERESIS = 0.1  # another label must lead the shown one by this much (smoothed) to replace it
MAX_COST = 1.6  # pairs costlier than this are not the same face (no overlap, centres half a face apart)
POSITION_NOISE = 0.05  # expected change of speed per second, as a fraction of the face's size
MEASUREMENT_NOISE = 0.05  # detector jitter, as a fraction of the face's size


def _kalman(box: Box) -> cv2.KalmanFilter:
    """State: centre x, y, width, height and their rates of change; measured: the first four."""
    kf = cv2.KalmanFilter(8, 4)
    kf.measurementMatrix = np.hstack([np.eye(4), np.zeros((4, 4))]).astype(np.float32)
    x, y, w, h = box
    kf.statePost = np.array([[x + w / 2], [y + h / 2], [w], [h], [0], [0], [0], [0]], np.float32)
    size = max(w, h)
    kf.errorCovPost = np.diag([size * 0.1] * 4 + [size] * 4).astype(np.float32) ** 2
    return kf


@dataclass
class Track:
    id: int
    detection: Detection  # where the face is now: the last detection, or the filter's prediction
    last_seen: float  # frame time of the last detection matched to this track
    kalman: cv2.KalmanFilter
    updated: float  # frame time the filter state refers to
    history: deque = field(default_factory=deque)
    label: int | None = None  # index of the label shown for this face
    in_view: bool = True  # matched at the last detection; a missed face is remembered, not shown
    certain: bool | None = None  # whether the shown label is named, or 'uncertain'

    @property
    def box(self) -> Box:
        return self.detection.box

    def advance(self, t: float) -> None:
        """Move the filter to time ``t`` and the box (and its landmarks) with it."""
        dt = t - self.updated
        if dt <= 0:
            return
        kf = self.kalman
        transition = np.eye(8, dtype=np.float32)
        transition[:4, 4:] = np.eye(4) * dt
        kf.transitionMatrix = transition
        size = float(max(kf.statePost[2, 0], kf.statePost[3, 0], 1.0))
        q = (POSITION_NOISE * size) ** 2
        kf.processNoiseCov = np.diag([q * dt ** 3 / 3] * 4 + [q * dt] * 4).astype(np.float32)
        state = kf.predict()
        self.updated = t
        self._place(state)

    def correct(self, det: Detection, t: float) -> None:
        x, y, w, h = det.box
        r = (MEASUREMENT_NOISE * max(w, h)) ** 2
        self.kalman.measurementNoiseCov = np.eye(4, dtype=np.float32) * r
        self.kalman.correct(np.array([[x + w / 2], [y + h / 2], [w], [h]], np.float32))
        self.detection = det  # show what was seen; the filter carries it to the frames in between
        self.last_seen = t

    def _place(self, state: np.ndarray) -> None:
        cx, cy, w, h = (float(v) for v in state[:4, 0])
        w, h = max(w, 2.0), max(h, 2.0)
        old = self.detection
        box = (round(cx - w / 2), round(cy - h / 2), round(w), round(h))
        points = None
        if old.landmarks is not None:  # the face's points keep their place within its box
            ox, oy, ow, oh = old.box
            points = tuple((box[0] + (px - ox) * w / ow, box[1] + (py - oy) * h / oh) for px, py in old.landmarks)
        self.detection = Detection(box, old.score, points)

    def update(self, probs: np.ndarray, min_confidence: float = 0.0) -> tuple[int | None, np.ndarray]:
        """Add this frame's probabilities; return the label index to show (None: uncertain) and the average.

        Averaging over a window removes most flicker; hysteresis removes the rest, where two
        labels are close, or a label is close to ``min_confidence``, and would otherwise swap
        back and forth.
        """
        self.history.append(probs)
        smooth = np.mean(self.history, axis=0)
        best = int(np.argmax(smooth))
        if self.label is None or smooth[best] > smooth[self.label] + HYSTERESIS:
            self.label = best
        p = smooth[self.label]
        if self.certain is None:
            self.certain = bool(p >= min_confidence)
        elif self.certain and p < min_confidence - HYSTERESIS / 2:
            self.certain = False
        elif not self.certain and p >= min_confidence + HYSTERESIS / 2:
            self.certain = True
        return (self.label if self.certain else None), smooth


def label_name(labels: tuple[str, ...], index: int | None) -> str:
    return UNCERTAIN if index is None else labels[index]


class Tracker:
    """Tracks, matched to each frame's detections; ``hold`` seconds without one ends a track.

    Only faces the last detection saw are in view (no boxes linger where someone has left); a face
    missed for a moment is remembered and gets its id back when it is seen again within ``hold``.
    """

    def __init__(self, window: int = 5, hold: float = 1.0) -> None:
        self.window = window
        self.hold = hold
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, detections: list[Detection], t: float) -> list[Track]:
        """A frame with detection: the tracks in view at ``t``, matched detections updating them."""
        self._advance(t)
        pairs = self._assign(detections)
        for track in self.tracks:
            track.in_view = False
        for ti, di in pairs:
            self.tracks[ti].correct(detections[di], t)
            self.tracks[ti].in_view = True
        taken = {di for _, di in pairs}
        for di, det in enumerate(detections):
            if di not in taken:
                self.tracks.append(Track(self._next_id, det, t, _kalman(det.box), t, deque(maxlen=self.window)))
                self._next_id += 1
        return [tr for tr in self.tracks if tr.in_view]

    def follow(self, t: float) -> list[Track]:
        """A frame without detection: the faces in view, moved to where their motion puts them at ``t``."""
        self._advance(t)
        return [tr for tr in self.tracks if tr.in_view]

    def _advance(self, t: float) -> None:
        self.tracks = [tr for tr in self.tracks if t - tr.last_seen <= self.hold]
        for track in self.tracks:
            track.advance(t)

    def _assign(self, detections: list[Detection]) -> list[tuple[int, int]]:
        """(track, detection) index pairs of least total cost; pairs above ``MAX_COST`` stay apart."""
        if not self.tracks or not detections:
            return []
        cost = np.array([[_cost(tr.box, det.box) for det in detections] for tr in self.tracks])
        import lap

        _, rows, _ = lap.lapjv(cost, extend_cost=True, cost_limit=MAX_COST)
        return [(ti, int(di)) for ti, di in enumerate(rows) if di >= 0 and cost[ti, di] <= MAX_COST]


def _cost(a: Box, b: Box) -> float:
    """1 - overlap, plus the centres' distance in face sizes: low for the same face, high for another."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    distance = math.hypot(ax + aw / 2 - bx - bw / 2, ay + ah / 2 - by - bh / 2)
    return 1.0 - iou(a, b) + distance / math.sqrt(max(aw * ah, 1))
