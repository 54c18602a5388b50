"""Faces appearing, leaving and changing their shown emotion, derived from the sequence of frame results.

Only each face's track id and shown emotion are read, so this works with any tracker. A
face that drops out of a frame or two (a missed detection) has not left: it leaves after
``leave_after`` seconds unseen, measured in the results' own time. A face that flashes by
gives no event at all: it appears once it has been in view for ``appear_after`` seconds
(the event carries the time it was first seen), and only an announced face changes or leaves.
"""

from __future__ import annotations

from dataclasses import dataclass

from pi_emotion.results.frame import FrameResult


@dataclass(frozen=True)
class FaceEvent:
    kind: str  # "appear", "emotion" (the shown emotion changed) or "leave"
    track: int
    t: float  # when it happened, in the results' time (a leave: when the face was last seen)
    emotion: str  # the emotion shown then (a leave: the last one shown)
    score: float
    previous: str | None = None  # "emotion": the emotion shown before
    duration_s: float | None = None  # "leave": how long the face was in view

    def to_json(self) -> dict:
        out = {"type": self.kind, "track": self.track, "t": round(self.t, 3), "emotion": self.emotion,
               "score": round(self.score, 3)}
        if self.previous is not None:
            out["previous"] = self.previous
        if self.duration_s is not None:
            out["duration_s"] = round(self.duration_s, 3)
        return out


@dataclass
class _Seen:
    first: float
    last: float
    emotion: str
    score: float
    announced: bool = False


class FaceEvents:
    def __init__(self, leave_after: float = 1.0, appear_after: float = 0.5) -> None:
        self.leave_after = leave_after
        self.appear_after = appear_after
        self._faces: dict[int, _Seen] = {}

    def update(self, result: FrameResult) -> list[FaceEvent]:
        """The events this frame brings, in the order they happened (leaves first)."""
        now = result.t
        events = []
        in_frame = {face.track for face in result.faces}
        for track, seen in list(self._faces.items()):
            if track not in in_frame and now - seen.last > self.leave_after and (left := self._leave(track)):
                events.append(left)
        for face in result.faces:
            seen = self._faces.get(face.track)
            if seen is None:
                seen = self._faces[face.track] = _Seen(now, now, face.emotion, face.score)
            elif face.emotion != seen.emotion:
                if seen.announced:
                    events.append(FaceEvent("emotion", face.track, now, face.emotion, face.score,
                                            previous=seen.emotion))
                seen.emotion = face.emotion
            seen.last, seen.score = now, face.score
            if not seen.announced and now - seen.first >= self.appear_after:
                seen.announced = True
                events.append(FaceEvent("appear", face.track, seen.first, face.emotion, face.score))
        return events

    def finish(self) -> list[FaceEvent]:
        """Leave events for every announced face still in view (the record ends)."""
        return [event for track in list(self._faces) if (event := self._leave(track)) is not None]

    def _leave(self, track: int) -> FaceEvent | None:
        seen = self._faces.pop(track)
        if not seen.announced:
            return None
        return FaceEvent("leave", track, seen.last, seen.emotion, seen.score, duration_s=seen.last - seen.first)
