"""Following faces between and across detections: ids, motion, confirmation and each face's evidence.

Each face is a track with a constant-velocity Kalman filter (OpenCV's) on its box. The box
shown is always the filter's estimate, on frames with a detection as on those without, so
the box does not jump between two estimators; the detection itself (``seen``, with its
landmarks) is kept for the classifier, which only looks at faces the detector saw. A
detection is matched to a track only within what the track's motion allows (a gate on the
filter's own uncertainty), by overlap and distance with an optimal assignment. A face is
shown once confirmed (seen twice, or once with a high score), so single false boxes never
appear. A track is forgotten after ``hold`` seconds unseen, on the frames' own clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from pi_emotion.perception.evidence import Evidence, EvidenceOptions
from pi_emotion.results.boxes import iou
from pi_emotion.results.frame import Box, Detection

MAX_COST = 1.6  # pairs costlier than this are not the same face (no overlap, centres half a face apart)
GATE = 16.0  # squared Mahalanobis distance of a detection's centre from the prediction (2 dof: p < 0.0004)
POSITION_NOISE = 2.0  # expected change of speed per second, in face sizes per second (people start and stop)
MEASUREMENT_NOISE = 0.06  # detector jitter, as a fraction of the face's size
CONFIRM_HITS = 2  # detections before a face is shown ...
CONFIRM_SCORE = 0.9  # ... or one detection this confident


def _kalman(box: Box) -> cv2.KalmanFilter:
    """State: centre x, y, width, height and their rates of change; measured: the first four."""
    kf = cv2.KalmanFilter(8, 4)
    kf.measurementMatrix = np.hstack([np.eye(4), np.zeros((4, 4))]).astype(np.float32)
    x, y, w, h = box
    kf.statePost = np.array([[x + w / 2], [y + h / 2], [w], [h], [0], [0], [0], [0]], np.float32)
    size = max(w, h)
    kf.errorCovPost = np.diag([size * MEASUREMENT_NOISE] * 4 + [size] * 4).astype(np.float32) ** 2
    kf.errorCovPre = kf.errorCovPost.copy()
    return kf


@dataclass
class Track:
    id: int
    detection: Detection  # where the face is shown: the filter's estimate, the face's points carried along
    seen: Detection | None  # this frame's own detection of the face; None on a frame where it was not detected
    last_seen: float  # frame time of the last detection matched to this track
    kalman: cv2.KalmanFilter
    updated: float  # frame time the filter state refers to
    evidence: Evidence
    hits: int = 1
    confirmed: bool = False
    in_view: bool = True  # matched at the last detection; a missed face is remembered, not shown
    small: bool = False  # too small for the regular detection pass: only the finer pass can see it
    points: tuple | None = field(default=None, repr=False)  # landmarks relative to the box, as fractions

    @property
    def box(self) -> Box:
        return self.detection.box

    def advance(self, t: float) -> None:
        """Move the filter to time ``t`` and the box (and its landmarks) with it."""
        self.seen = None
        dt = t - self.updated
        if dt <= 0:
            return
        kf = self.kalman
        transition = np.eye(8, dtype=np.float32)
        transition[:4, 4:] = np.eye(4) * dt
        kf.transitionMatrix = transition
        size = float(max(kf.statePost[2, 0], kf.statePost[3, 0], 1.0))
        q = (POSITION_NOISE * size) ** 2
        noise = np.zeros((8, 8), np.float32)
        noise[:4, :4] = np.eye(4) * q * dt ** 3 / 3
        noise[:4, 4:] = noise[4:, :4] = np.eye(4) * q * dt ** 2 / 2
        noise[4:, 4:] = np.eye(4) * q * dt
        kf.processNoiseCov = noise
        state = kf.predict()
        kf.statePost, kf.errorCovPost = state.copy(), kf.errorCovPre.copy()  # a later frame predicts from here
        self.updated = t
        self._place(state, self.detection.score)

    def distance(self, det: Detection) -> float:
        """Squared Mahalanobis distance of ``det``'s centre from where the filter expects this face."""
        x, y, w, h = det.box
        r = (MEASUREMENT_NOISE * max(w, h)) ** 2
        spread = self.kalman.errorCovPre[:2, :2].astype(np.float64) + np.eye(2) * r
        gap = np.array([x + w / 2, y + h / 2]) - self.kalman.statePre[:2, 0]
        return float(gap @ np.linalg.solve(spread, gap))

    def moved_on(self, det: Detection, lag: float) -> Detection:
        """``det``, found ``lag`` seconds ago, where this face's motion has taken it since."""
        if lag <= 0:
            return det
        dx, dy = (float(v) * lag for v in self.kalman.statePost[4:6, 0])
        x, y, w, h = det.box
        points = None if det.landmarks is None else tuple((px + dx, py + dy) for px, py in det.landmarks)
        return Detection((round(x + dx), round(y + dy), w, h), det.score, points)

    def correct(self, det: Detection, t: float, seen: Detection | None = None) -> None:
        """Apply a detection at ``t``; ``seen`` is the detection as found, where ``det`` was moved on to ``t``."""
        x, y, w, h = det.box
        r = (MEASUREMENT_NOISE * max(w, h)) ** 2
        self.kalman.measurementNoiseCov = np.eye(4, dtype=np.float32) * r
        state = self.kalman.correct(np.array([[x + w / 2], [y + h / 2], [w], [h]], np.float32))
        self.kalman.statePre, self.kalman.errorCovPre = state.copy(), self.kalman.errorCovPost.copy()
        if det.landmarks is not None:
            self.points = tuple(((px - x) / w, (py - y) / h) for px, py in det.landmarks)
        self.seen = seen or det
        self.last_seen = t
        self.hits += 1
        self._place(state, det.score)

    def _place(self, state: np.ndarray, score: float) -> None:
        cx, cy, w, h = (float(v) for v in state[:4, 0])
        w, h = max(w, 2.0), max(h, 2.0)
        box = (round(cx - w / 2), round(cy - h / 2), round(w), round(h))
        points = None if self.points is None else tuple((cx - w / 2 + fx * w, cy - h / 2 + fy * h)
                                                        for fx, fy in self.points)
        self.detection = Detection(box, score, points)


class Tracker:
    """Tracks, matched to each frame's detections; ``hold`` seconds without one ends a track.

    Only faces the last detection saw are in view (no boxes linger where someone has left); a face
    missed for a moment is remembered and gets its id back when it is seen again within ``hold``.
    ``labels`` and ``evidence`` set up each new face's evidence; ``confirm_hits`` is how many
    detections a face needs before it is shown (1 for still pictures).
    """

    def __init__(self, labels: int = 7, evidence: EvidenceOptions | None = None, hold: float = 1.0,
                 confirm_hits: int = CONFIRM_HITS, fine_every: float = 0.0) -> None:
        self.labels = labels
        self.evidence = evidence or EvidenceOptions()
        self.hold = hold
        self.confirm_hits = confirm_hits
        self.fine_every = fine_every  # how often a finer pass looks for faces the regular one cannot see
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, detections: list[Detection], t: float, unseen_below: float = 0.0,
               lag: float = 0.0) -> list[Track]:
        """A frame with detection: the confirmed tracks in view at ``t``, matched detections updating them.

        ``unseen_below`` (pixels) says the detections came from a pass that cannot see smaller faces:
        a track that small keeps its place unseen rather than leave the view. ``lag`` says they were
        found that many seconds before ``t`` (detection on its own thread): each is moved on by the
        face's own motion before it is matched and applied.
        """
        self._advance(t)
        pairs = self._assign(detections, lag)
        matched = {ti for ti, _ in pairs}
        for ti, track in enumerate(self.tracks):
            track.small = unseen_below > 0 and max(track.box[2:]) < unseen_below
            if ti not in matched and not track.small:
                track.in_view = False
        for ti, di in pairs:
            track = self.tracks[ti]
            track.correct(track.moved_on(detections[di], lag), t, seen=detections[di])
            track.in_view = True
            track.confirmed = track.confirmed or track.hits >= self.confirm_hits
        taken = {di for _, di in pairs}
        for di, det in enumerate(detections):
            if di not in taken:
                self._start(det, t)
        return self.shown()

    def follow(self, t: float) -> list[Track]:
        """A frame without detection: the faces in view, moved to where their motion puts them at ``t``."""
        self._advance(t)
        return self.shown()

    def shown(self) -> list[Track]:
        return [tr for tr in self.tracks if tr.in_view and tr.confirmed]

    def reset(self) -> None:
        """A new scene (a hard cut): every face in it is someone new, with no evidence carried over."""
        self.tracks = []

    def _start(self, det: Detection, t: float) -> None:
        track = Track(self._next_id, det, det, t, _kalman(det.box), t, Evidence(self.labels, self.evidence))
        if det.landmarks is not None:
            x, y, w, h = det.box
            track.points = tuple(((px - x) / w, (py - y) / h) for px, py in det.landmarks)
        track.confirmed = self.confirm_hits <= 1 or det.score >= CONFIRM_SCORE
        self.tracks.append(track)
        self._next_id += 1

    def _advance(self, t: float) -> None:
        self.tracks = [tr for tr in self.tracks
                       if t - tr.last_seen <= self.hold + (self.fine_every if tr.small else 0.0)]
        for track in self.tracks:
            track.advance(t)

    def _assign(self, detections: list[Detection], lag: float) -> list[tuple[int, int]]:
        """(track, detection) index pairs of least total cost; pairs outside the gate or above MAX_COST stay apart."""
        if not self.tracks or not detections:
            return []
        cost = np.full((len(self.tracks), len(detections)), math.inf)
        for ti, tr in enumerate(self.tracks):
            for di, det in enumerate(detections):
                moved = tr.moved_on(det, lag)
                if tr.distance(moved) <= GATE:
                    cost[ti, di] = _cost(tr.box, moved.box)
        import lap

        _, rows, _ = lap.lapjv(np.minimum(cost, 2 * MAX_COST), extend_cost=True, cost_limit=MAX_COST)
        return [(ti, int(di)) for ti, di in enumerate(rows) if di >= 0 and cost[ti, di] <= MAX_COST]


def _cost(a: Box, b: Box) -> float:
    """1 - overlap, plus the centres' distance in face sizes: low for the same face, high for another."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    distance = math.hypot(ax + aw / 2 - bx - bw / 2, ay + ah / 2 - by - bh / 2)
    return 1.0 - iou(a, b) + distance / math.sqrt(max(aw * ah, 1))
