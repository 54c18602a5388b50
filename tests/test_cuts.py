"""Hard cuts found on real decoded frames, and nowhere else (a pan, people moving and sensor noise are no cut)."""

import cv2
import numpy as np
import pytest
from conftest import DATA

from pi_emotion.perception.cuts import CutDetector


def cuts_in(clip: str, detector: CutDetector) -> list[int]:
    video = cv2.VideoCapture(str(DATA / clip))
    found, index = [], 0
    while True:
        ok, frame = video.read()
        if not ok:
            break
        if detector.is_cut(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)):
            found.append(index)
        index += 1
    video.release()
    return found


@pytest.mark.parametrize("clip, cuts", [("sample.mp4", [60, 120]), ("steady.mp4", [90, 180]), ("scene.mp4", [])])
def test_cuts_are_found_where_the_clips_have_them(clip, cuts):
    assert cuts_in(clip, CutDetector()) == cuts


def test_a_change_of_exposure_is_no_cut():
    detector = CutDetector()
    frame = cv2.cvtColor(cv2.imread(str(DATA / "two_people.jpg")), cv2.COLOR_BGR2GRAY)
    assert not detector.is_cut(frame)
    brighter = np.clip(frame.astype(np.int16) + 40, 0, 255).astype(np.uint8)
    assert not detector.is_cut(brighter)
    assert detector.is_cut(cv2.flip(brighter, 1))  # the same light, another picture


def test_threshold_zero_never_cuts():
    assert cuts_in("sample.mp4", CutDetector(0.0)) == []
