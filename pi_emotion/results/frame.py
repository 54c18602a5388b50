"""The shapes every stage shares: boxes, detections, faces and what one frame held.

Plain data with no OpenCV, so any module (outputs, reports, tests) can use them cheaply.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

Box = tuple[int, int, int, int]  # x, y, w, h in full-frame pixels
Point = tuple[float, float]

UNCERTAIN = "uncertain"  # the label shown when no emotion is clear enough to name


@dataclass(frozen=True)
class Detection:
    """One face a detector found, in full-frame pixels.

    ``landmarks`` are right eye, left eye, nose tip, right and left mouth corner (the
    person's right and left), where the detector gives them; they frame the crop.
    """

    box: Box
    score: float = 1.0
    landmarks: tuple[Point, ...] | None = None


@dataclass
class Face:
    box: Box
    emotion: str  # one of the model's labels, or UNCERTAIN
    score: float
    scores: dict[str, float]
    track: int
    raw_emotion: str  # this frame's own answer; ``emotion`` is smoothed over the track's recent frames
    raw_score: float

    def to_json(self) -> dict:
        return {"box": list(self.box), "emotion": self.emotion, "score": round(self.score, 4),
                "scores": {k: round(v, 4) for k, v in self.scores.items()}, "track": self.track,
                "raw_emotion": self.raw_emotion, "raw_score": round(self.raw_score, 4)}


@dataclass
class FrameResult:
    frame: int
    t: float  # media time (files) or seconds since the camera opened; never goes backwards
    faces: list[Face] = field(default_factory=list)
    wall: float = field(default_factory=time.time)  # when the frame was read, seconds since the epoch
    picture: str = ""  # the file, when the source is still pictures

    def to_json(self) -> dict:
        data = {"frame": self.frame, "t": round(self.t, 4), "ts": iso_utc(self.wall),
                "faces": [f.to_json() for f in self.faces]}
        if self.picture:
            data["picture"] = self.picture
        return data


def iso_utc(wall: float) -> str:
    """ISO 8601 in UTC to the millisecond, e.g. ``2026-11-21T09:30:00.125Z``."""
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
