"""What the pipeline found in one frame, in the shape every output shares."""

from __future__ import annotations

from dataclasses import dataclass, field

from pi_emotion.detect import Box


@dataclass
class Face:
    box: Box
    emotion: str
    score: float
    scores: dict[str, float]
    track: int | None = None

    def to_json(self) -> dict:
        data = {"box": list(self.box), "emotion": self.emotion, "score": round(self.score, 4),
                "scores": {k: round(v, 4) for k, v in self.scores.items()}}
        if self.track is not None:
            data["track"] = self.track
        return data


@dataclass
class FrameResult:
    frame: int
    t: float
    faces: list[Face] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"frame": self.frame, "t": round(self.t, 4), "faces": [f.to_json() for f in self.faces]}
