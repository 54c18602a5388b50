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
                     pictures: Iterator[tuple[np.ndarray, int]]) -> tuple[np.ndarray, np.ndarray]:
    """True labels and predicted ones (``MISSED`` where no face was found)."""
    truth, predicted = [], []
    for picture, label in pictures:
        grey = cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY)
        found = detector.detect_picture(picture, grey)
        truth.append(label)
        if not found:
            predicted.append(MISSED)
            continue
        face = largest(found)
        predicted.append(int(classifier.classify(grey, [face], margin)[0].argmax()))
    return np.array(truth, np.int64), np.array(predicted, np.int64)
