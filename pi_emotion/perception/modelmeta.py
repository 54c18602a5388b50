"""What the appliance needs to know about a model, stored beside it as JSON.

Preprocessing has to match training exactly, so it travels with the model file
(``emotion.tflite`` -> ``emotion.json``) instead of living in code.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pi_emotion.errors import UserError
from pi_emotion.perception.preprocess import NORMALISERS

FER2013_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


@dataclass(frozen=True)
class ModelMeta:
    """Input geometry, pixel scaling and labels of a classifier.

    The network sees ``pixel * scale + offset`` for 0..255 grey (or BGR) pixels, after the
    per-crop normalisation named by ``preprocess`` (a key of ``preprocess.NORMALISERS``).
    """

    labels: tuple[str, ...] = FER2013_LABELS
    input_size: tuple[int, int] = (48, 48)  # width, height
    channels: int = 1
    scale: float = 1.0
    offset: float = 0.0
    preprocess: str = "none"
    extra: dict = field(default_factory=dict)

    def save(self, path: Path) -> None:
        data = asdict(self)
        data["labels"] = list(self.labels)
        data["input_size"] = list(self.input_size)
        path.write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> ModelMeta:
        try:
            data = json.loads(path.read_text())
            meta = cls(
                labels=tuple(str(x) for x in data["labels"]),
                input_size=(int(data["input_size"][0]), int(data["input_size"][1])),
                channels=int(data["channels"]),
                scale=float(data["scale"]),
                offset=float(data["offset"]),
                preprocess=str(data.get("preprocess", "none")),
                extra=dict(data.get("extra", {})),
            )
        except FileNotFoundError:
            raise UserError(f"model metadata {path} is missing; make the model with 'pi-emotion convert'") from None
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise UserError(f"model metadata {path} is unreadable: {exc}") from None
        if meta.channels not in (1, 3) or len(meta.labels) < 2 or min(meta.input_size) < 8:
            raise UserError(f"model metadata {path} has impossible values (channels, labels or input size)")
        if meta.preprocess not in NORMALISERS:
            raise UserError(f"model metadata {path} asks for preprocessing {meta.preprocess!r}, which this version "
                            f"does not know ({', '.join(NORMALISERS)}): upgrade pi-emotion")
        return meta


def meta_path(model_path: Path) -> Path:
    """The sidecar file of a model: same name, ``.json`` suffix."""
    return model_path.with_suffix(".json")
