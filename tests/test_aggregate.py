"""Face events and aggregates derived from sequences of frame results (labels outside the model's included)."""

from pi_emotion.perception.modelmeta import FER2013_LABELS
from pi_emotion.results.aggregate import IntervalAggregator, RollingShares, dominant, shares
from pi_emotion.results.face_events import FaceEvents
from pi_emotion.results.frame import Face, FrameResult


def frame(t: float, *faces: tuple[int, str]) -> FrameResult:
    return FrameResult(int(t * 10), t, [Face((0, 0, 10, 10), emotion, 0.8, {emotion: 0.8}, track, emotion, 0.8)
                                        for track, emotion in faces])


def kinds(events):
    return [(e.kind, e.track, e.emotion) for e in events]


def test_appear_change_and_leave_with_a_grace_period():
    ev = FaceEvents(leave_after=1.0, appear_after=0.0)
    assert kinds(ev.update(frame(0.0, (1, "neutral")))) == [("appear", 1, "neutral")]
    assert ev.update(frame(0.1, (1, "neutral"))) == []
    changed = ev.update(frame(0.2, (1, "happy"), (2, "uncertain")))
    assert kinds(changed) == [("emotion", 1, "happy"), ("appear", 2, "uncertain")]
    assert changed[0].previous == "neutral"
    assert ev.update(frame(0.9)) == []  # a missed detection is not a departure
    assert ev.update(frame(1.0, (1, "happy"))) == []
    left = ev.update(frame(1.3, (1, "happy")))
    assert kinds(left) == [("leave", 2, "uncertain")]
    assert left[0].t == 0.2 and left[0].duration_s == 0.0
    assert kinds(ev.finish()) == [("leave", 1, "happy")]
    assert set(left[0].to_json()) == {"type", "track", "t", "emotion", "score", "duration_s"}


def test_a_face_that_flashes_by_gives_no_event_and_a_lasting_one_appears_when_it_was_first_seen():
    ev = FaceEvents(leave_after=1.0, appear_after=0.5)
    assert ev.update(frame(0.0, (1, "neutral"), (2, "sad"))) == []
    assert ev.update(frame(0.1, (1, "happy"))) == []  # a change before the face is announced is no event
    appeared = ev.update(frame(0.6, (1, "happy")))
    assert kinds(appeared) == [("appear", 1, "happy")] and appeared[0].t == 0.0
    assert ev.update(frame(1.2, (1, "happy"))) == []  # face 2, seen for one frame, leaves without a word
    assert kinds(ev.finish()) == [("leave", 1, "happy")]


def test_intervals_with_few_faces_are_suppressed_and_empty_ones_are_not():
    agg = IntervalAggregator(10.0, min_group=3, labels=FER2013_LABELS)
    closed = []
    for t, faces in [(0, [(1, "happy"), (2, "sad")]), (5, [(3, "uncertain")]), (12, [(4, "happy")]), (25, []),
                     (31, [])]:
        done = agg.update(frame(t, *faces))
        if done:
            closed.append(done)
    last = agg.flush()
    assert [a.start for a in closed] == [0, 10, 20] and last.start == 30 and last.end == 31
    first, second, third = (a.to_json() for a in closed)
    assert first["faces"] == 3 and not first["suppressed"]
    assert first["counts"] == {**dict.fromkeys(FER2013_LABELS, 0), "happy": 1, "sad": 1, "uncertain": 1}
    assert list(first["shares"])[-1] == "uncertain" and abs(sum(first["shares"].values()) - 100) < 0.5
    assert first["dominant_emotion"] == "happy"  # ties go to the model's label order
    assert second["suppressed"] and set(second) == {"type", "start", "end", "frames", "suppressed"}
    assert not third["suppressed"] and third["faces"] == 0 and third["dominant_emotion"] is None


def test_rolling_shares_forget_what_left_the_window():
    rolling = RollingShares(FER2013_LABELS, window=60)
    rolling.add(frame(0.0, (1, "sad")))
    rolling.add(frame(30.0, (1, "happy")))
    assert rolling.shares()["sad"] == 50.0
    rolling.add(frame(61.0, (1, "happy")))
    assert rolling.shares()["sad"] == 0.0 and rolling.shares()["happy"] == 100.0


def test_shares_and_dominant_of_nothing():
    assert shares({}, ("a", "b")) == {"a": 0.0, "b": 0.0}
    assert dominant({}, ("a",)) is None
