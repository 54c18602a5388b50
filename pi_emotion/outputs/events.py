"""JSON Lines, one object per processed frame.

Each line goes to the file in one ``write`` call; if the disk fills mid-line the file is
cut back to its last whole line, so a reader never meets half an object.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import numpy as np

from pi_emotion.errors import UserError
from pi_emotion.results import FrameResult


class EventsWriter:
    needs_image = False

    def __init__(self, path: Path) -> None:
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise UserError(f"events file {path} cannot be written ({exc.strerror})") from None
        self._size = 0

    def write(self, image: np.ndarray | None, result: FrameResult) -> None:
        self.write_json(result.to_json())

    def write_json(self, data: dict) -> None:
        """One object as one whole line."""
        line = (json.dumps(data, separators=(",", ":")) + "\n").encode()
        try:
            written = os.write(self._fd, line)
            if written != len(line):
                raise OSError(f"short write ({written} of {len(line)} bytes): is the disk full?")
        except OSError:
            with contextlib.suppress(OSError):  # not a regular file (a pipe, /dev/full): nothing to cut
                os.ftruncate(self._fd, self._size)
            raise
        self._size += written

    def close(self) -> None:
        os.close(self._fd)
