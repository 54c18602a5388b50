"""JSON Lines, one object per processed frame, flushed line by line so a crash loses at most one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pi_emotion.errors import UserError
from pi_emotion.results import FrameResult


class EventsWriter:
    needs_image = False

    def __init__(self, path: Path) -> None:
        try:
            self._fh = path.open("w", encoding="utf-8")
        except OSError as exc:
            raise UserError(f"events file {path} cannot be written ({exc.strerror})") from None

    def write(self, image: np.ndarray | None, result: FrameResult) -> None:
        self._fh.write(json.dumps(result.to_json(), separators=(",", ":")) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()
