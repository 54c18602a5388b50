"""Track ids across frames by box overlap, and class probabilities smoothed per track.

IoU matching costs microseconds, far less than detection, so faces can be followed
between detections and their labels do not flicker from one frame to the next.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from pi_emotion.detect import Box

HYSTERESIS = 0.1  # another label must lead the shown one by this much (smoothed) to replace it


def iou(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = min(ax + aw, bx + bw) - max(ax, bx)
    h = min(ay + ah, by + bh) - max(ay, by)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (aw * ah + bw * bh - inter)


@dataclass
class Track:
    id: int
    box: Box
    history: deque = field(default_factory=deque)
    missed: int = 0
    label: int | None = None  # index of the label shown for this face

    def update(self, probs: np.ndarray) -> tuple[int, np.ndarray]:
        """Add this frame's probabilities; return the label to show and the smoothed probabilities.

        Averaging over a window removes most flicker; hysteresis removes the rest, where two
        labels are close and would otherwise swap back and forth.
        """
        self.history.append(probs)
        smooth = np.mean(self.history, axis=0)
        best = int(np.argmax(smooth))
        if self.label is None or smooth[best] > smooth[self.label] + HYSTERESIS:
            self.label = best
        return self.label, smooth


class Tracker:
    """Greedy IoU matching; a track survives ``max_missed`` frames without a match."""

    def __init__(self, window: int = 5, min_iou: float = 0.3, max_missed: int = 5) -> None:
        self.window = window
        self.min_iou = min_iou
        self.max_missed = max_missed
        self.tracks: list[Track] = []
        self._next_id = 1

    def match(self, boxes: list[Box]) -> list[Track]:
        """One track per box (new ones where nothing overlaps), in the order of ``boxes``."""
        pairs = sorted(((iou(t.box, b), ti, bi) for ti, t in enumerate(self.tracks) for bi, b in enumerate(boxes)),
                       reverse=True)
        assigned: dict[int, Track] = {}
        used: set[int] = set()
        for overlap, ti, bi in pairs:
            if overlap < self.min_iou:
                break
            if ti in used or bi in assigned:
                continue
            used.add(ti)
            assigned[bi] = self.tracks[ti]
        for ti, track in enumerate(self.tracks):
            track.missed = 0 if ti in used else track.missed + 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        out = []
        for bi, box in enumerate(boxes):
            track = assigned.get(bi)
            if track is None:
                track = Track(self._next_id, box, deque(maxlen=self.window))
                self._next_id += 1
                self.tracks.append(track)
            track.box = box
            out.append(track)
        return out

    def current_boxes(self) -> list[Box]:
        """Boxes of the tracks seen in the last frame, to classify on frames without detection."""
        return [t.box for t in self.tracks if t.missed == 0]
