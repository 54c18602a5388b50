"""Video files, decoded by OpenCV/FFmpeg."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2

from pi_emotion.errors import UserError
from pi_emotion.sources.base import Frame, FrameSource

log = logging.getLogger(__name__)
MAX_CORRUPT_RUN = 10  # this many undecodable frames in a row: the file is truncated, it has ended


class VideoFileSource(FrameSource):
    """Every frame in order; ``loop`` starts over at the end; ``realtime`` paces at the file's fps.

    In realtime mode the source behaves like a camera: ``pace`` waits for the next frame's
    time, and frames whose time has passed while the caller was busy are skipped (grabbed,
    not decoded).
    """

    live = False
    waiting = False

    def __init__(self, path: Path, loop: bool = False, realtime: bool = False,
                 clock=time.monotonic, sleep=time.sleep) -> None:
        self.name = str(path)
        self._path = path
        self._cap = cv2.VideoCapture(str(path))
        ok, first = self._cap.read() if self._cap.isOpened() else (False, None)
        if not ok:
            self._cap.release()
            raise UserError(f"source {path} is not a readable video")
        self._pending = first
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or 30.0
        if not 1.0 <= self.fps <= 240.0:
            self.fps = 30.0
        self.size = (first.shape[1], first.shape[0])
        self.frames = max(0, int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)))  # as the container says; 0: unknown
        self.loop = loop
        self.realtime = realtime
        self.skipped = 0  # frames dropped by realtime pacing
        self.corrupt = 0  # undecodable frames skipped inside the file
        self._clock, self._sleep = clock, sleep
        self._start = clock()
        self._file_index = 0  # index within the file
        self._index = 0  # frames handed out, across loops
        self._offset = 0.0  # media time of earlier loops

    def read(self) -> Frame | None:
        image = self._next_image()
        if image is None:
            return None
        t = self._offset + self._file_index / self.fps
        frame = Frame(self._index, t, image, cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
        self._index += 1
        self._file_index += 1
        return frame

    def _next_image(self):
        if self._pending is not None:
            image, self._pending = self._pending, None
            return image
        image = self._read_skipping_corrupt()
        if image is not None:
            return image
        if not self.loop or self._file_index == 0:
            return None
        self._offset += self._file_index / self.fps
        self._file_index = 0
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        ok, image = self._cap.read()
        return image if ok else None

    def _read_skipping_corrupt(self):
        """The next decodable frame; undecodable ones are skipped and counted, a run of them ends the file."""
        for failures in range(MAX_CORRUPT_RUN + 1):
            ok, image = self._cap.read()
            if ok and image is not None and (image.shape[1], image.shape[0]) == self.size:
                if failures:
                    self.corrupt += failures
                    self._file_index += failures
                    log.warning("%s: skipped %d undecodable frame(s)", self.name, failures)
                return image
        return None

    def pace(self) -> None:
        """Wait for the next frame's time, or skip frames already late; nothing unless ``realtime``."""
        if not self.realtime:
            return
        due = self._start + self._offset + self._file_index / self.fps
        now = self._clock()
        if now < due:
            self._sleep(due - now)
            return
        behind = int((now - due) * self.fps)
        for _ in range(behind):
            if self._pending is not None:
                self._pending = None
            elif not self._cap.grab():
                break
            self._file_index += 1
            self.skipped += 1

    def close(self) -> None:
        self._cap.release()
