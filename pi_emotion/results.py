"""What the pipeline found in one frame, in the shape every output shares."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pi_emotion.detect import Box


@dataclass
class Face:
    box: Box
    emotion: str
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

    def to_json(self) -> dict:
        return {"frame": self.frame, "t": round(self.t, 4), "ts": iso_utc(self.wall),
                "faces": [f.to_json() for f in self.faces]}


def iso_utc(wall: float) -> str:
    """ISO 8601 in UTC to the millisecond, e.g. ``2026-11-21T09:30:00.125Z``."""
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
