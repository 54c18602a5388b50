"""What the pipeline found in one frame, in the shape every output shares."""

from __future__ import annotations

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
    t: float
    faces: list[Face] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"frame": self.frame, "t": round(self.t, 4), "faces": [f.to_json() for f in self.faces]}


def utc_timestamp(wall: float) -> str:
    """ISO 8601 UTC with milliseconds, as written in events and MQTT messages: 2026-11-21T10:00:00.000Z."""
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
