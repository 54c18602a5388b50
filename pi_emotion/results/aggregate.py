"""Emotion counts over time: fixed intervals (summaries, the aggregates-only privacy mode) and a rolling window.

Counts are face-frames: a face seen in 30 frames showing "happy" counts 30 for happy.
An interval in which some, but fewer than ``min_group``, distinct faces were seen is
suppressed: it says that it happened and how many frames it had, never who showed what.
(An interval with no face at all has nothing to hide and is reported as such.)

Labels outside the model's own (such as a low-confidence "uncertain") are counted like
any other; the model's labels always appear, with 0 when unseen, so consumers see a
stable set of keys.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from pi_emotion.results.frame import UNCERTAIN, FrameResult


def shares(counts: Counter, labels: Iterable[str]) -> dict[str, float]:
    """Percent of all counted face-frames per emotion: the model's labels first, then any others seen."""
    labels = list(labels)
    keys = labels + sorted(k for k in counts if k not in labels)
    total = sum(counts.values())
    return {k: round(100 * counts[k] / total, 1) if total else 0.0 for k in keys}


def dominant(counts: Counter, labels: Iterable[str]) -> str | None:
    """The most counted emotion (ties go to the label listed first), or None when nothing was counted."""
    order = {label: i for i, label in enumerate(labels)}
    seen = [(n, -order.get(k, len(order)), k) for k, n in counts.items() if n > 0]
    return max(seen)[2] if seen else None


def dominant_named(counts: Counter, labels: Iterable[str]) -> str | None:
    """The model's label shown most (per face track or file): ``uncertain`` only when nothing else was shown."""
    labels = list(labels)
    return dominant(Counter({k: v for k, v in counts.items() if k in labels}), labels) or \
        (UNCERTAIN if sum(counts.values()) else None)


@dataclass
class Aggregate:
    start: float
    end: float
    frames: int
    faces: int  # distinct faces (track ids)
    face_frames: int
    max_in_view: int
    counts: Counter
    labels: tuple[str, ...]
    suppressed: bool

    def to_json(self) -> dict:
        out = {"type": "summary", "start": round(self.start, 3), "end": round(self.end, 3), "frames": self.frames,
               "suppressed": self.suppressed}
        if not self.suppressed:
            out.update({
                "faces": self.faces, "face_frames": self.face_frames,
                "mean_faces_in_view": round(self.face_frames / self.frames, 3) if self.frames else 0.0,
                "max_faces_in_view": self.max_in_view,
                "counts": {k: self.counts[k] for k in shares(self.counts, self.labels)},
                "shares": shares(self.counts, self.labels),
                "dominant_emotion": dominant(self.counts, self.labels)})
        return out


@dataclass
class _Open:
    index: int
    frames: int = 0
    face_frames: int = 0
    max_in_view: int = 0
    last_t: float = 0.0
    tracks: set = field(default_factory=set)
    counts: Counter = field(default_factory=Counter)


class IntervalAggregator:
    """Frame results in, one ``Aggregate`` per ``interval`` seconds of their time out."""

    def __init__(self, interval: float, min_group: int, labels: Iterable[str]) -> None:
        self.interval = interval
        self.min_group = min_group
        self.labels = tuple(labels)
        self._open: _Open | None = None

    def update(self, result: FrameResult) -> Aggregate | None:
        """Count one frame; returns the interval this frame closed, if it closed one."""
        index = math.floor(result.t / self.interval)
        done = None
        if self._open is not None and index != self._open.index:
            done = self._close((self._open.index + 1) * self.interval)
        if self._open is None:
            self._open = _Open(index)
        cur = self._open
        cur.frames += 1
        cur.face_frames += len(result.faces)
        cur.max_in_view = max(cur.max_in_view, len(result.faces))
        cur.last_t = result.t
        cur.tracks.update(f.track for f in result.faces)
        cur.counts.update(f.emotion for f in result.faces)
        return done

    def flush(self) -> Aggregate | None:
        """The interval still open (ending at its last frame), when the record ends."""
        return self._close(self._open.last_t) if self._open is not None else None

    def _close(self, end: float) -> Aggregate:
        cur, self._open = self._open, None
        return Aggregate(cur.index * self.interval, end, cur.frames, len(cur.tracks), cur.face_frames,
                         cur.max_in_view, cur.counts, self.labels, suppressed=0 < len(cur.tracks) < self.min_group)


class RollingShares:
    """Each emotion's share of the face-frames in the last ``window`` seconds, kept as one-second buckets."""

    def __init__(self, labels: Iterable[str], window: float = 60.0) -> None:
        self.labels = tuple(labels)
        self.window = window
        self._buckets: deque[tuple[int, Counter]] = deque()

    def add(self, result: FrameResult) -> None:
        second = math.floor(result.t)
        if not self._buckets or self._buckets[-1][0] != second:
            self._buckets.append((second, Counter()))
        self._buckets[-1][1].update(f.emotion for f in result.faces)
        while self._buckets and self._buckets[0][0] <= second - self.window:
            self._buckets.popleft()

    def shares(self) -> dict[str, float]:
        total: Counter = Counter()
        for _, counts in self._buckets:
            total.update(counts)
        return shares(total, self.labels)
