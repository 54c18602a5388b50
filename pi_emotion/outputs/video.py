"""Annotated video file, at the source's frame rate and size."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pi_emotion.errors import UserError
from pi_emotion.results import FrameResult

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

    def write(self, image: np.ndarray | None, result: FrameResult) -> None:
        if (image.shape[1], image.shape[0]) != self._size:
            image = cv2.resize(image, self._size)
        self._writer.write(image)

    def close(self) -> None:
        self._writer.release()
