"""Keeps a live camera going: when it fails or vanishes, reopen it with capped exponential backoff.

The loop is told the camera is being waited for (``waiting``), so the service can say so
and keep its watchdog fed; a read that hangs is not waiting, and lets the watchdog fire.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from pi_emotion.errors import UserError
from pi_emotion.sources import Frame, FrameSource

log = logging.getLogger(__name__)
FIRST_DELAY = 0.5
MAX_DELAY = 30.0


class ReconnectingSource:
    live = True

    def __init__(self, open_source: Callable[[], FrameSource], first: FrameSource,
                 first_delay: float = FIRST_DELAY, max_delay: float = MAX_DELAY) -> None:
        self._open = open_source
        self._source: FrameSource | None = first
        self.name, self.fps, self.size = first.name, first.fps, first.size
        self.first_delay, self.max_delay = first_delay, max_delay
        self.waiting = False
        self.reconnects = 0
        self._closed = threading.Event()
        self._index = 0

    def read(self) -> Frame | None:
        while not self._closed.is_set():
            if self._source is not None:
                try:
                    frame = self._source.read()
                except Exception as exc:  # a driver raising is the same to us as a camera gone
                    log.debug("camera read raised: %s", exc)
                    frame = None
                if frame is not None:
                    frame.index = self._index  # frame numbers keep counting across reconnects
                    self._index += 1
                    return frame
                self._lost()
            self._reopen()
        return None

    def _lost(self) -> None:
        log.error("camera %s stopped delivering frames; retrying with backoff up to %.0f s", self.name,
                  self.max_delay)
        self.waiting = True
        self._close_current()

    def _reopen(self) -> None:
        delay = self.first_delay
        while not self._closed.is_set():
            if self._closed.wait(delay):
                return
            try:
                self._source = self._open()
            except UserError as exc:
                log.debug("camera not back yet: %s", exc)
                delay = min(delay * 2, self.max_delay)
                continue
            self.waiting = False
            self.reconnects += 1
            log.warning("camera %s is back", self.name)
            return

    def _close_current(self) -> None:
        if self._source is not None:
            try:
                self._source.close()
            except Exception as exc:
                log.debug("closing the lost camera: %s", exc)
            self._source = None

    def close(self) -> None:
        self._closed.set()
        self._close_current()
