"""Keeps a source coming: opens one that is not there yet, and reopens a camera that fails or vanishes,
with capped exponential backoff.

The loop is told the source is being waited for (``waiting``), so the service can say so
and keep its watchdog fed; a read that hangs is not waiting, and lets the watchdog fire.
Frame numbers and times carry on across a reopen: ``t`` never goes backwards.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from pi_emotion.errors import UserError
from pi_emotion.sources.base import Frame, FrameSource

log = logging.getLogger(__name__)
FIRST_DELAY = 0.5
MAX_DELAY = 30.0


class ReconnectingSource(FrameSource):
    """Wraps the source ``open_source`` makes; ``first`` is one already open, or None to wait for it.

    Without ``first`` the name, rate, size and kind are what was asked for, until the source opens.
    """

    def __init__(self, open_source: Callable[[], FrameSource], first: FrameSource | None, *, name: str = "",
                 fps: float = 30.0, size: tuple[int, int] = (640, 480), live: bool = True, realtime: bool = True,
                 first_delay: float = FIRST_DELAY, max_delay: float = MAX_DELAY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._open = open_source
        self._source: FrameSource | None = None
        self.name, self.fps, self.size, self.live, self.realtime = name, fps, size, live, realtime
        if first is not None:
            self._use(first)
            self.live, self.realtime = first.live, first.realtime
        self.first_delay, self.max_delay = first_delay, max_delay
        self.waiting = first is None
        self.reconnects = 0
        self._closed = threading.Event()
        self._clock = clock
        self._started = clock()
        self._index = 0
        self._last_t: float | None = None
        self._offset = 0.0  # added to the current source's own times
        self._rebase = False  # the next frame comes from a reopened source: move its times on
        self._corrupt_before = 0

    @property
    def corrupt(self) -> int:  # type: ignore[override]
        return self._corrupt_before + (self._source.corrupt if self._source is not None else 0)

    def _use(self, source: FrameSource) -> None:
        self._source = source
        self.name, self.fps, self.size = source.name, source.fps, source.size

    def pace(self) -> None:
        if self._source is not None:
            self._source.pace()

    def read(self) -> Frame | None:
        while not self._closed.is_set():
            if self._source is None:
                self._reopen()
                continue
            try:
                frame = self._source.read()
            except Exception as exc:  # a driver raising is the same to us as a camera gone
                log.debug("camera read raised: %s", exc)
                frame = None
            if frame is not None:
                return self._carry_on(frame)
            if not self.live:
                return None  # a file that ended: nothing to reopen
            self._lost()
        return None

    def _carry_on(self, frame: Frame) -> Frame:
        """Number and time the frame after the ones before it, whichever source they came from."""
        if self._rebase:
            self._rebase = False
            since_start = self._clock() - self._started
            self._offset = max(since_start, (self._last_t or 0.0) + 1 / self.fps) - frame.t
        frame.t += self._offset
        frame.index = self._index
        self._index += 1
        self._last_t = frame.t
        return frame

    def _lost(self) -> None:
        log.error("%s stopped delivering frames; retrying with backoff up to %.0f s", self.name,
                  self.max_delay)
        self.waiting = True
        self._close_current()

    def _reopen(self) -> None:
        delay = self.first_delay
        while not self._closed.is_set():
            if self._closed.wait(delay):
                return
            try:
                source = self._open()
            except UserError as exc:
                log.debug("source not there yet: %s", exc)
                delay = min(delay * 2, self.max_delay)
                continue
            self._use(source)
            self._rebase = self._last_t is not None
            self.reconnects += self._rebase
            self.waiting = False
            log.warning("%s is %s", self.name, "back" if self._rebase else "there")
            return

    def _close_current(self) -> None:
        if self._source is not None:
            self._corrupt_before += self._source.corrupt
            try:
                self._source.close()
            except Exception as exc:
                log.debug("closing the lost camera: %s", exc)
            self._source = None

    def close(self) -> None:
        self._closed.set()
        self._close_current()
