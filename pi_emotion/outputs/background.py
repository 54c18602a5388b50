"""Runs an output's writes in its own thread, so encoding and disk I/O stay off the frame loop.

``keep_all`` outputs (a video file) get every frame through a short queue; the others (a
display) get only the newest frame and skip what they could not show in time.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

import numpy as np

from pi_emotion.results.frame import FrameResult

log = logging.getLogger(__name__)
QUEUE = 8


class BackgroundOutput:
    def __init__(self, output, keep_all: bool, name: str) -> None:
        self.output = output
        self.keep_all = keep_all
        self.needs_image = output.needs_image
        self.failed: BaseException | None = None
        self._reported = False
        self._items: deque = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def write(self, image: np.ndarray | None, result: FrameResult) -> None:
        if self.failed is not None:
            self._reported = True
            raise self.failed  # reported on the loop's side, where outputs are retired
        with self._cond:
            if self.keep_all:
                self._cond.wait_for(lambda: len(self._items) < QUEUE or self.failed is not None)
            else:
                self._items.clear()  # the newest frame replaces one not shown yet
            self._items.append((image, result))
            self._cond.notify_all()

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._items or self._closing)
                if not self._items:
                    return
                image, result = self._items[0]
            try:
                self.output.write(image, result)
            except Exception as exc:  # handed to the loop, which logs it once and retires this output
                with self._cond:
                    self.failed = exc
                    self._items.clear()
                    self._cond.notify_all()
                return
            with self._cond:
                if self._items:
                    self._items.popleft()
                self._cond.notify_all()

    def close(self) -> None:
        """Finish what is queued, then close the wrapped output."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        if self.failed is not None and not self._reported:
            log.error("%s stopped: %s", type(self.output).__name__, self.failed)
        self.output.close()
