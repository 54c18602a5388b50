"""Annotated video file, at the source's frame rate and size.

OpenCV's writer fails silently when the disk fills, and an MP4 whose index could not be
written at the end does not play. So the writer watches the free space itself and stops
while there is still room to finish the file properly.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import cv2
import numpy as np

from pi_emotion.errors import UserError
from pi_emotion.results import FrameResult

CHECK_EVERY = 30  # frames between free-space checks
MIN_RESERVE = 256 * 1024  # bytes kept free to close the file (its index, the last frames)
FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


class VideoWriter:
    needs_image = True

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        fourcc = FOURCC.get(path.suffix.lower())
        if fourcc is None:
            raise UserError(f"--output {path}: use a .mp4, .mov, .avi or .mkv file name")
        if not path.parent.is_dir():
            raise UserError(f"--output {path}: folder {path.parent} does not exist")
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
        if not self._writer.isOpened():
            raise UserError(f"--output {path} cannot be written")
        self._size = size
        self._path = path
        self._frames = 0

    def write(self, image: np.ndarray | None, result: FrameResult) -> None:
        if self._frames % CHECK_EVERY == 0:
            self._check_space()
        if (image.shape[1], image.shape[0]) != self._size:
            image = cv2.resize(image, self._size)
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
            raise OSError(errno.ENOSPC, f"disk nearly full: video closed after {self._frames} frames to keep "
                                        f"it playable ({self._path})")

    def close(self) -> None:
        self._writer.release()
