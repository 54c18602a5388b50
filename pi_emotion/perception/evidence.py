"""What a face's label rests on: its views weighted by how good they were, summed over time.

A single frame's answer is noisy, and a blurred, tiny or turned view is worth less than a
clear frontal one. Each classified view adds its probabilities with a weight (``view_weight``)
to a sum that fades with a time constant in seconds, so neither the frame rate nor how often
faces are classified changes the behaviour. The label shown changes only when another one
has led the evidence for ``switch_seconds``; ``uncertain`` is shown while the evidence is weak
(too little of it, or no label above ``min_confidence``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from pi_emotion.perception.align import turn_of
from pi_emotion.results.frame import Detection

UNCERTAIN_INDEX = -1  # the shown "label" when the evidence names none
MIN_WEIGHT = 0.25  # evidence lighter than this (one small blurred view) names no label yet
CLEAR_SIDE = 48  # a face this many pixels across or more is seen as well as a training face
SHARP = 500.0  # Laplacian variance of a model-sized crop: FER2013 faces 1000-2900, their camera-condition copy 8-35
TURNED = 0.5  # nose this many eye-distances off the eyes' midline: a profile, the least-trusted view
FLOOR = 0.2  # the least any one quality factor scales a view by


@dataclass(frozen=True)
class EvidenceOptions:
    smooth_seconds: float = 1.5  # time constant over which views fade
    switch_seconds: float = 0.7  # how long another label must lead before it is shown
    min_confidence: float = 0.0  # below this share of the evidence, 'uncertain'


def view_weight(det: Detection, crop: np.ndarray) -> float:
    """How much one view of a face counts, 0.008..1: size x detector score x sharpness x how frontal.

    ``crop`` is the model-sized grey crop the classifier saw.
    """
    side = min(det.box[2], det.box[3])
    size = min(1.0, max(FLOOR, side / CLEAR_SIDE))
    score = min(1.0, max(FLOOR, (det.score - 0.5) / 0.4))
    grey = crop if crop.ndim == 2 else crop[..., 0]
    sharp = min(1.0, max(FLOOR, float(cv2.Laplacian(grey, cv2.CV_32F).var()) / SHARP))
    frontal = 1.0 if det.landmarks is None else min(1.0, max(FLOOR, 1.0 - turn_of(det.landmarks) / TURNED))
    return size * score * sharp * frontal


class Evidence:
    """One face's evidence; ``add`` a classified view, ``decide`` the label to show at a time."""

    def __init__(self, labels: int, options: EvidenceOptions = EvidenceOptions()) -> None:
        self.options = options
        self._sums = np.zeros(labels, np.float64)
        self._weight = 0.0
        self._at = -math.inf  # time the sums refer to
        self.last_added = -math.inf  # time of the last view added
        self.raw: np.ndarray | None = None  # the last view's own probabilities
        self._shown: int | None = None  # None: nothing decided yet
        self._challenger: int | None = None
        self._since = 0.0

    def _fade(self, t: float) -> float:
        return math.exp(-(t - self._at) / self.options.smooth_seconds) if self._at > -math.inf else 0.0

    def add(self, probs: np.ndarray, weight: float, t: float) -> None:
        keep = self._fade(t)
        self._sums = self._sums * keep + weight * np.asarray(probs, np.float64)
        self._weight = self._weight * keep + weight
        self._at = self.last_added = t
        self.raw = np.asarray(probs, np.float32)

    def probabilities(self) -> np.ndarray:
        """The weighted average of the views, recent ones counting more."""
        if self._weight <= 0:
            return np.full(len(self._sums), 1.0 / len(self._sums))
        return self._sums / self._weight

    def weight(self, t: float) -> float:
        """How much evidence is left at ``t``: 1 is about one clear frontal view just now."""
        return self._weight * self._fade(t)

    def candidate(self, t: float) -> int:
        """What the evidence says now, before the time hysteresis: a label index or UNCERTAIN_INDEX."""
        probs = self.probabilities()
        best = int(np.argmax(probs))
        if self.weight(t) < MIN_WEIGHT or probs[best] < self.options.min_confidence:
            return UNCERTAIN_INDEX
        return best

    def decide(self, t: float) -> int:
        """The label index to show at ``t`` (UNCERTAIN_INDEX: uncertain); changes only after a lead that lasted."""
        now = self.candidate(t)
        if self._shown is None or now == self._shown:
            self._shown, self._challenger = now, None
        elif now != self._challenger:
            self._challenger, self._since = now, t
        elif t - self._since >= self.options.switch_seconds:
            self._shown, self._challenger = now, None
        return self._shown
