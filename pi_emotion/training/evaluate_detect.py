"""Labelled pictures through the appliance's own detector, alignment and crop, as ``evaluate --detect``.

A picture of one person is scored on the face the detector finds (the largest, if it finds
several); a picture where it finds none is a miss. Dataset crops (a FER2013 CSV) are first
placed back into larger pictures (``placement``), so the detector and the crop are tested too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from pi_emotion.datasets import fer2013
from pi_emotion.datasets.placement import place, random_placement
from pi_emotion.errors import UserError
from pi_emotion.perception.align import turn_of
from pi_emotion.perception.classify import EmotionClassifier
from pi_emotion.perception.detectors.base import Detector
from pi_emotion.results.boxes import largest

MISSED = -1


def labelled_pictures(data: Path, usage: str, seed: int, limit: int = 0) -> Iterator[tuple[np.ndarray, int]]:
    """BGR pictures and labels: class folders as they are, or a CSV's faces placed into larger pictures."""
    if data.is_dir():
        files = fer2013.labelled_files(data, usage)
        if not files:
            raise UserError(f"data {data} has no pictures for usage {usage!r}")
        for path, label in files[:limit or None]:
            picture = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if picture is None:
                raise UserError(f"{path}: not a readable image")
            yield picture, label
        return
    ds = fer2013.load(data, usage)
    rng = np.random.default_rng(seed)
    for face, label in zip(ds.images[:limit or None], ds.labels[:limit or None]):
        yield place(face, random_placement(rng)), int(label)


def predict_detected(classifier: EmotionClassifier, detector: Detector, margin: float,
                     pictures: Iterator[tuple[np.ndarray, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True labels, predicted ones (``MISSED`` where no face was found) and how turned each face is.

    The turn is ``align.turn_of`` of the face's landmarks (NaN where it was missed or the
    detector gives no landmarks).
    """
    truth, predicted, turns = [], [], []
    for picture, label in pictures:
        grey = cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY)
        found = detector.detect_picture(picture, grey)
        truth.append(label)
        if not found:
            predicted.append(MISSED)
            turns.append(np.nan)
            continue
        face = largest(found)
        predicted.append(int(classifier.classify(grey, [face], margin)[0].argmax()))
        turns.append(np.nan if face.landmarks is None else turn_of(face.landmarks))
    return np.array(truth, np.int64), np.array(predicted, np.int64), np.array(turns, np.float64)


def by_turn(truth: np.ndarray, predicted: np.ndarray, turns: np.ndarray, parts: int = 3) -> list[dict]:
    """Accuracy in ``parts`` equal shares of the found faces, from the most frontal to the most turned."""
    known = ~np.isnan(turns)
    if known.sum() < parts:
        return []
    order = np.argsort(turns[known], kind="stable")
    t, p, turn = truth[known][order], predicted[known][order], turns[known][order]
    rows = []
    for chunk in np.array_split(np.arange(len(t)), parts):
        rows.append({"turn_from": float(turn[chunk[0]]), "turn_to": float(turn[chunk[-1]]), "faces": int(len(chunk)),
                     "accuracy": float(np.mean(t[chunk] == p[chunk]))})
    return rows
