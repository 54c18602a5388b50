"""Following faces with the frames' own clock: ids across misses, motion between detections, 'uncertain'."""

import json

import numpy as np
import pytest
from conftest import SAMPLE, run_cli

from pi_emotion.perception.track import Tracker
from pi_emotion.results.frame import UNCERTAIN, Detection

FPS = 30


def face(x, y, size=60, points=False):
    landmarks = ((x + 0.3 * size, y + 0.4 * size), (x + 0.7 * size, y + 0.4 * size), (x + 0.5 * size, y + 0.6 * size),
                 (x + 0.35 * size, y + 0.8 * size), (x + 0.65 * size, y + 0.8 * size)) if points else None
    return Detection((round(x), round(y), size, size), 0.9, landmarks)


def test_ids_follow_moving_faces_whatever_their_order():
    tracker = Tracker()
    first = {tr.box[0]: tr.id for tr in tracker.update([face(100, 100), face(300, 100)], 0.0)}
    then = {tr.box[0]: tr.id for tr in tracker.update([face(306, 102), face(104, 101)], 1 / FPS)}
    assert first == {100: 1, 300: 2} and then == {104: 1, 306: 2}


@pytest.mark.parametrize("detect_every", [1, 3, 6])
@pytest.mark.parametrize("miss_s, kept", [(0.3, True), (0.5, True), (1.3, False)])
def test_an_id_survives_a_miss_shorter_than_hold_at_any_detection_rate(detect_every, miss_s, kept):
    """A face walks across; the detector misses it for ``miss_s`` seconds; ``hold`` is one second."""
    tracker = Tracker(hold=1.0)
    ids = set()
    for i in range(4 * FPS):
        t = i / FPS
        x = 50 + 100 * t  # 100 px a second
        if i % detect_every:
            tracks = tracker.follow(t)
        elif 1.0 <= t < 1.0 + miss_s:
            tracks = tracker.update([], t)
            assert tracks == []  # not shown while unseen: no box lingers where nobody is
        else:
            tracks = tracker.update([face(x, 200)], t)
        ids |= {tr.id for tr in tracks}
    assert (ids == {1}) is kept


def test_between_detections_the_box_moves_with_the_face():
    tracker = Tracker()
    for i in range(10):  # moving right at 4 px a frame, detected every frame
        tracker.update([face(100 + 4 * i, 100, points=True)], i / FPS)
    (track,) = tracker.follow(12 / FPS)  # two frames later, no detection
    x, y, w, h = track.box
    assert abs(x - (100 + 4 * 12)) <= 3 and abs(y - 100) <= 2 and abs(w - 60) <= 2
    (ex, ey), *_ = track.detection.landmarks  # the face's points moved with it
    assert abs(ex - (x + 0.3 * 60)) <= 1 and abs(ey - (y + 0.4 * 60)) <= 1


def test_a_face_gone_longer_than_hold_comes_back_with_a_new_id():
    tracker = Tracker(hold=0.5)
    (first,) = tracker.update([face(100, 100)], 0.0)
    assert tracker.update([], 0.4) == [] and len(tracker.tracks) == 1
    assert tracker.update([], 0.6) == [] and tracker.tracks == []
    (again,) = tracker.update([face(100, 100)], 0.7)
    assert again.id != first.id


def test_two_faces_crossing_keep_their_ids():
    """The optimal assignment, not the greedy one, keeps ids when two faces pass close to each other."""
    tracker = Tracker()
    for i in range(12):
        t = i / FPS
        ids = {tr.box[1]: tr.id for tr in tracker.update([face(100 + 10 * i, 100), face(300 - 10 * i, 110)], t)}
        assert ids == {100: 1, 110: 2}, i


def test_uncertain_below_min_confidence_keeps_the_probabilities():
    tracker = Tracker(window=1)
    (track,) = tracker.update([face(0, 0)], 0.0)
    flat = np.array([0.3, 0.25, 0.2, 0.1, 0.05, 0.05, 0.05])
    shown, smooth = track.update(flat, min_confidence=0.4)
    assert shown is None and smooth == pytest.approx(flat)
    clear = np.array([0.05, 0.05, 0.05, 0.7, 0.05, 0.05, 0.05])
    assert track.update(clear, min_confidence=0.4)[0] == 3


def test_a_label_near_min_confidence_does_not_flicker_to_uncertain():
    tracker = Tracker(window=1)
    (track,) = tracker.update([face(0, 0)], 0.0)
    shown = []
    for p in [0.45, 0.39, 0.41, 0.38, 0.42, 0.30, 0.41, 0.44, 0.46]:
        probs = np.array([p, 0, 0, 0, 0, 0, 1 - p]) if p > 0.5 else np.array([p] + [(1 - p) / 6] * 6)
        shown.append(track.update(probs, min_confidence=0.4)[0])
    assert shown == [0, 0, 0, 0, 0, None, None, None, 0]


def test_the_cli_labels_unclear_faces_uncertain(tmp_path):
    events = tmp_path / "e.jsonl"
    proc = run_cli("--source", SAMPLE, "--events", events, "--max-frames", "20", "--min-confidence", "0.99")
    assert proc.returncode == 0, proc.stderr
    faces = [f for line in events.read_text().splitlines() for f in json.loads(line)["faces"]]
    assert faces and all(f["emotion"] == UNCERTAIN for f in faces)
    assert all(sum(f["scores"].values()) == pytest.approx(1, abs=0.01) for f in faces)
    assert "uncertain" in proc.stdout
