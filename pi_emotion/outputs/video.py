"""Annotated video file that plays as long as what it recorded.

Frames are placed by their time, not their count: the file has a fixed nominal rate, and
a frame is repeated until the next one is due, or dropped when a newer one falls in the
same slot. A loop that processes 12 of a camera's 30 frames a second thus still writes a
video whose playback time equals real time. A gap longer than ``MAX_HOLD`` seconds (a
camera being reconnected) is cut short rather than filled with a still picture.

OpenCV's writer fails silently when the disk fills, and an MP4 whose index could not be
written at the end does not play. So the writer watches the free space itself and stops
while there is still room to finish the file properly.
"""

from __future__ import annotations

import errno
import math
import os
from pathlib import Path

import cv2
import numpy as np

from pi_emotion.errors import UserError
from pi_emotion.paths import VIDEO_FOURCC
from pi_emotion.results.frame import FrameResult

CHECK_EVERY = 30  # frames between free-space checks
MIN_RESERVE = 256 * 1024  # bytes kept free to close the file (its index, the last frames)
MAX_HOLD = 5.0  # seconds a picture is held over a gap in the frames; longer gaps are cut


class VideoWriter:
    needs_image = True

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        """``size`` is a first guess: the file takes the size of the first frame written."""
        self._fourcc = VIDEO_FOURCC.get(path.suffix.lower())
        if self._fourcc is None:
            raise UserError(f"--output {path}: use a {', '.join(sorted(VIDEO_FOURCC))} file name")
        if not path.parent.is_dir():
            raise UserError(f"--output {path}: folder {path.parent} does not exist")
        self._path = path
        self.fps = fps
        self._writer = self._open(size)
        if not self._writer.isOpened():
            raise UserError(f"--output {path} cannot be written")
        self._size = size
        self._frames = 0  # frames in the file
        self._held: np.ndarray | None = None  # the newest picture, written once the next one's time is known
        self._slot = 0  # where the held picture goes, in frames from the first
        self._t0 = 0.0
        self._full = False

    def _open(self, size: tuple[int, int]) -> cv2.VideoWriter:
        return cv2.VideoWriter(str(self._path), cv2.VideoWriter_fourcc(*self._fourcc), self.fps, size)

    @property
    def frames(self) -> int:
        return self._frames

    def write(self, image: np.ndarray | None, result: FrameResult) -> None:
        if self._held is None:
            self._start(image, result.t)
            return
        slot = max(self._slot, math.floor((result.t - self._t0) * self.fps + 0.5))
        if slot > self._slot:
            self._put(self._held, min(slot - self._slot, round(MAX_HOLD * self.fps)))
        self._held, self._slot = image, slot  # a newer frame in the same slot replaces the held one

    def _start(self, image: np.ndarray, t: float) -> None:
        size = (image.shape[1], image.shape[0])
        if size != self._size:  # nothing written yet: reopen at the frames' own size
            self._writer.release()
            self._writer, self._size = self._open(size), size
        self._held, self._slot, self._t0 = image, 0, t

    def _put(self, image: np.ndarray, times: int) -> None:
        if (image.shape[1], image.shape[0]) != self._size:
            image = cv2.resize(image, self._size)
        for _ in range(times):
            if self._frames % CHECK_EVERY == 0:
                self._check_space()
            self._writer.write(image)
            self._frames += 1

    def _check_space(self) -> None:
        """Raise ENOSPC while the file can still be closed playably, rather than after it broke."""
        fs = os.statvfs(self._path.parent)
        free = fs.f_bavail * fs.f_frsize
        written = self._path.stat().st_size if self._path.exists() else 0
        per_frame = written / self._frames if self._frames else 0
        reserve = max(MIN_RESERVE, int(per_frame * CHECK_EVERY * 2))
        if free < reserve:
            self._full = True
            raise OSError(errno.ENOSPC, f"disk nearly full: video closed after {self._frames} frames to keep "
                                        f"it playable ({self._path})")

    def close(self) -> None:
        try:
            if self._held is not None and not self._full:
                self._put(self._held, 1)
                self._held = None
        finally:
            self._writer.release()
