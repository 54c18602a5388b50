"""Capture in its own thread, so decoding or waiting for the camera overlaps the frame's processing.

Live sources keep only the newest frame: a slow loop drops frames rather than falling
behind. Files hand on every frame, in order, through a short queue.
"""

from __future__ import annotations

import threading
from collections import deque

from pi_emotion.runtime.stats import StageTimes
from pi_emotion.sources.base import Frame, FrameSource

QUEUE = 4  # frames decoded ahead for files


class ThreadedCapture:
    def __init__(self, source: FrameSource, newest_only: bool, timer: StageTimes | None = None) -> None:
        self.source = source
        self._timer = timer or StageTimes()
        self.newest_only = newest_only
        self.dropped = 0
        self._frames: deque[Frame] = deque()
        self._cond = threading.Condition()
        self._ended = False
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._capture, name="capture", daemon=True)
        self._thread.start()

    def _capture(self) -> None:
        try:
            while not self._stop.is_set():
                self.source.pace()  # a paced file's wait for its next frame is not decoding
                with self._timer.stage("decode"):
                    frame = self.source.read()
                with self._cond:
                    if frame is None:
                        break
                    if self.newest_only:
                        self.dropped += len(self._frames)
                        self._frames.clear()
                    else:
                        self._cond.wait_for(lambda: len(self._frames) < QUEUE or self._stop.is_set())
                    self._frames.append(frame)
                    self._cond.notify_all()
        except BaseException as exc:  # handed to the reader, who decides what it means
            self._error = exc
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    def read(self, timeout: float | None = None) -> Frame | None:
        """The next frame (newest, for live sources); None at the end or after ``timeout`` seconds."""
        with self._cond:
            self._cond.wait_for(lambda: self._frames or self._ended, timeout)
            if self._frames:
                frame = self._frames.popleft()
                self._cond.notify_all()
                return frame
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            return None

    @property
    def ended(self) -> bool:
        with self._cond:
            return self._ended and not self._frames

    def close(self, timeout: float = 2.0) -> None:
        """Stop capturing; the thread finishes its current read. The source stays open: its opener closes it."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)
