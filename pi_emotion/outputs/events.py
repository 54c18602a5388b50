"""JSON Lines, one object per processed frame (or per frame with faces), kept for months.

The file is appended to, never truncated: a restart adds to what earlier runs wrote. At
``max_bytes`` it is rotated (``events.jsonl`` -> ``events.jsonl.1`` -> ... up to ``keep`` old
files). Each line goes to the file in one ``write`` call; if the disk fills mid-line the
file is cut back to its last whole line, so every file ends on a whole line and a reader
never meets half an object. A file left ending mid-line by a power cut is cut back the same
way when it is opened again. A ``header`` (the run's own description, ``{"type": "run", ...}``)
is the first line a run writes, and the first line of every file a rotation starts.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pi_emotion.errors import UserError
from pi_emotion.results.frame import FrameResult

# Which frames each ``events_mode`` writes; a new mode is a new entry here and in the setting's choices.
MODES: dict[str, Callable[[FrameResult], bool]] = {
    "all": lambda result: True,
    "faces": lambda result: bool(result.faces),
}


class EventsWriter:
    needs_image = False

    def __init__(self, path: Path, max_bytes: int = 0, keep: int = 0, mode: str = "all",
                 header: dict | None = None) -> None:
        self.path = path
        self.header = header
        self.max_bytes = max_bytes  # 0: never rotate
        self.keep = keep
        self._wanted = MODES[mode]
        self.rotations = 0
        self._fd = -1
        self._header_due = header is not None  # written before the first line, so a full disk fails a write
        try:
            self._open()
        except OSError as exc:
            raise UserError(f"events file {path} cannot be written ({exc.strerror})") from None

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        self._size = os.fstat(self._fd).st_size
        if self._size and os.pread(self._fd, 1, self._size - 1) != b"\n":
            self._cut_to_last_line()

    def _cut_to_last_line(self) -> None:
        """Drop a partial last line (a write cut off by a power loss): it is not valid JSON."""
        end = self._size
        while end > 0:
            start = max(0, end - 65536)
            chunk = os.pread(self._fd, end - start, start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                end = start + newline + 1
                break
            end = start
        os.ftruncate(self._fd, end)
        self._size = end

    def write(self, image: np.ndarray | None, result: FrameResult) -> None:
        if not self._wanted(result):
            return
        self.write_json(result.to_json())

    def write_json(self, data: dict) -> None:
        """One object as one whole line (a frame's, or a summary's), after the run's header where one is due."""
        line = self._encode(data)
        if self.max_bytes and self._size and self._size + len(line) > self.max_bytes:
            self._rotate()
        if self._header_due:
            self._header_due = False
            self._append(self._encode(self.header))
        self._append(line)

    @staticmethod
    def _encode(data: dict) -> bytes:
        return (json.dumps(data, separators=(",", ":")) + "\n").encode()

    def _append(self, line: bytes) -> None:
        try:
            written = os.write(self._fd, line)
            if written != len(line):
                raise OSError(f"short write ({written} of {len(line)} bytes): is the disk full?")
        except OSError:
            with contextlib.suppress(OSError):  # not a regular file (a pipe, /dev/full): nothing to cut
                os.ftruncate(self._fd, self._size)
            raise
        self._size += written

    def _rotate(self) -> None:
        """``events.jsonl`` becomes ``.1``, ``.1`` becomes ``.2``, ...; the oldest beyond ``keep`` goes.

        The file just filled is always kept (as ``.1``, even with ``keep`` 0): a rotation never throws away
        up to ``max_bytes`` of the newest records at once.
        """
        os.close(self._fd)
        self._fd = -1
        old = [self.path.with_name(f"{self.path.name}.{n}") for n in range(1, max(self.keep, 1) + 1)]
        old[-1].unlink(missing_ok=True)
        for newer, older in zip(reversed(old[:-1]), reversed(old[1:])):
            if newer.exists():
                newer.rename(older)
        self.path.rename(old[0])
        self.rotations += 1
        self._open()
        self._header_due = self.header is not None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
