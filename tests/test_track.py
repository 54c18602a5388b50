"""Following faces with the frames' own clock: ids across misses, boxes that stay on the face, gating,
confirmation, cuts."""

import json

import numpy as np
import pytest
from conftest import DATA, SAMPLE, frame_lines, run_cli

from pi_emotion.perception.track import Tracker
from pi_emotion.results.frame import UNCERTAIN, Detection

FPS = 30


def face(x, y, size=60, points=False, score=0.95):
    landmarks = ((x + 0.3 * size, y + 0.4 * size), (x + 0.7 * size, y + 0.4 * size), (x + 0.5 * size, y + 0.6 * size),
                 (x + 0.35 * size, y + 0.8 * size), (x + 0.65 * size, y + 0.8 * size)) if points else None
    return Detection((round(x), round(y), size, size), score, landmarks)


def test_ids_follow_moving_faces_whatever_their_order():
    tracker = Tracker()
    first = {tr.id: tr.box[0] for tr in tracker.update([face(100, 100), face(300, 100)], 0.0)}
    then = {tr.id: tr.box[0] for tr in tracker.update([face(306, 102), face(104, 101)], 1 / FPS)}
    assert first == {1: 100, 2: 300}
    assert then.keys() == {1, 2} and 100 <= then[1] <= 104 and 300 <= then[2] <= 306


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
    assert track.seen is None  # nothing for the classifier on a frame without detection


def test_on_alternate_detections_the_box_moves_as_the_face_does():
    """A face stands still for a second, then walks at 4 px a frame; the detector (jittering by a couple
    of pixels) runs on every other frame. The box must neither trail nor jump between the two kinds of frame."""
    rng = np.random.default_rng(3)
    tracker = Tracker()
    xs, truth, detected = [], [], []
    for i in range(4 * FPS):
        x = 100 + 4 * max(0, i - FPS)
        truth.append(x)
        if i % 2 == 0:
            det = face(x + rng.normal(0, 1.5), 200 + rng.normal(0, 1.5), size=80)
            (track,) = tracker.update([det], i / FPS)
        else:
            (track,) = tracker.follow(i / FPS)
        xs.append(track.box[0])
        detected.append(i % 2 == 0)
    xs, truth, detected = np.array(xs, float), np.array(truth, float), np.array(detected)
    walking = slice(FPS + 10, None)  # after the first third of a second of walking
    steps = np.diff(xs)[walking]
    assert np.median(np.abs(steps - 4)) <= 1.0  # moves about as the face does, frame by frame
    assert np.sum(steps <= 0) <= 2  # never (or hardly ever) steps back
    gap = (xs - truth)[walking]
    offset = abs(gap[detected[walking]].mean() - gap[~detected[walking]].mean())
    assert offset <= 1.5  # no offset between frames with and without detection
    assert np.abs(xs - truth)[FPS:].max() <= 10  # it starts walking: the box follows within a few frames


def test_a_detection_beyond_what_the_motion_allows_is_someone_else():
    tracker = Tracker()
    for i in range(15):  # a face that stands still
        (still,) = tracker.update([face(200, 200, size=60)], i / FPS)
    # next frame a face appears 0.4 face widths away, overlapping the old box: not the same person
    tracks = tracker.update([face(224, 200, size=60)], 15 / FPS)
    assert [tr.id for tr in tracks] == [2]  # the new face is shown with a new id; the still one is unseen
    assert all(tr.id != still.id for tr in tracks)


def test_a_face_is_shown_once_confirmed():
    tracker = Tracker()
    assert tracker.update([face(100, 100, score=0.7)], 0.0) == []  # one unsure detection: nothing shown
    (track,) = tracker.update([face(101, 100, score=0.7)], 2 / FPS)  # seen again: confirmed
    assert track.id == 1 and track.confirmed
    (sure,) = Tracker().update([face(100, 100, score=0.95)], 0.0)  # a confident detection is shown at once
    assert sure.confirmed


def test_a_face_gone_longer_than_hold_comes_back_with_a_new_id():
    tracker = Tracker(hold=0.5)
    (first,) = tracker.update([face(100, 100)], 0.0)
    assert tracker.update([], 0.4) == [] and len(tracker.tracks) == 1
    assert tracker.update([], 0.6) == [] and tracker.tracks == []
    (again,) = tracker.update([face(100, 100)], 0.7)
    assert again.id != first.id


def test_a_cut_ends_every_face():
    tracker = Tracker()
    (before,) = tracker.update([face(100, 100)], 0.0)
    tracker.reset()
    (after,) = tracker.update([face(100, 100)], 1 / FPS)
    assert after.id != before.id and after.evidence is not before.evidence


def test_a_small_face_only_the_finer_pass_sees_stays_in_view():
    tracker = Tracker(fine_every=1.0)
    tracker.update([face(100, 100, size=16), face(300, 100, size=80)], 0.0)  # the finer pass sees both
    shown = tracker.update([face(300, 100, size=80)], 2 / FPS, unseen_below=40)  # the regular one: the big only
    assert sorted(tr.box[2] for tr in shown) == [16, 80]
    shown = tracker.update([], 4 / FPS, unseen_below=40)  # the big face is gone; the small one was never seeable
    assert [tr.box[2] for tr in shown] == [16]


def test_two_faces_crossing_keep_their_ids():
    """The optimal assignment, not the greedy one, keeps ids when two faces pass close to each other."""
    tracker = Tracker()
    for i in range(12):
        t = i / FPS
        ids = {tr.id: tr.box[1] for tr in tracker.update([face(100 + 10 * i, 100), face(300 - 10 * i, 110)], t)}
        assert ids.keys() == {1, 2} and abs(ids[1] - 100) <= 2 and abs(ids[2] - 110) <= 2, i


def test_the_cli_labels_unclear_faces_uncertain(tmp_path):
    events = tmp_path / "e.jsonl"
    proc = run_cli("--source", SAMPLE, "--events", events, "--max-frames", "20", "--min-confidence", "0.99")
    assert proc.returncode == 0, proc.stderr
    faces = [f for line in frame_lines(events) for f in json.loads(line)["faces"]]
    assert faces and all(f["emotion"] == UNCERTAIN for f in faces)
    assert all(sum(f["scores"].values()) == pytest.approx(1, abs=0.01) for f in faces)
    assert "uncertain" in proc.stdout


@pytest.mark.parametrize("clip, cuts", [("sample.mp4", (60, 120)), ("steady.mp4", (90, 180))])
def test_no_id_crosses_a_hard_cut(tmp_path, clip, cuts):
    """Real decoded frames, default settings: every face after a cut is someone new."""
    events = tmp_path / "e.jsonl"
    proc = run_cli("--source", DATA / clip, "--events", events)
    assert proc.returncode == 0, proc.stderr
    frames = [json.loads(line) for line in frame_lines(events)]
    seen_at = {}
    for record in frames:
        for f in record["faces"]:
            seen_at.setdefault(f["track"], []).append(record["frame"])
    assert len(seen_at) >= len(cuts) + 1
    for cut in cuts:
        crossing = [i for i, at in seen_at.items() if min(at) < cut <= max(at)]
        assert crossing == [], (cut, crossing)
