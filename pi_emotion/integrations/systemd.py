"""Life under systemd: sd_notify (READY, WATCHDOG, STATUS, STOPPING) and logging to the journal.

systemd-python is used when it is importable (apt ``python3-systemd`` on the Pi); otherwise
the same one-datagram protocol is spoken to ``$NOTIFY_SOCKET`` directly. Outside systemd
every call here does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Protocol

from pi_emotion.results.frame import FrameResult

log = logging.getLogger(__name__)
STATUS_EVERY = 2.0  # seconds between STATUS= updates


class LoopFigures(Protocol):
    """What the status line reports of the frame loop (the run's statistics have these)."""

    recent_fps: float
    frames: int


def _send_datagram(message: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract socket namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message.encode(), address)
        return True
    except OSError as exc:
        log.debug("sd_notify failed: %s", exc)
        return False


def _notify_function():
    try:
        from systemd import daemon

        return lambda message: bool(daemon.notify(message))
    except ImportError:
        return _send_datagram


class Notifier:
    """Tells systemd how the service is doing; fed from the frame loop.

    READY=1 goes out once the service is up: at the first processed frame, or at the first
    wait for a camera that is not there yet (the stream is bound by then). ``clock`` and
    ``notify`` are the monotonic clock and the sender, replaceable to test the schedule.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 notify: Callable[[str], bool] | None = None) -> None:
        self._notify = notify or _notify_function()
        self._clock = clock
        self.active = bool(os.environ.get("NOTIFY_SOCKET"))
        self.watchdog_interval = self._watchdog_interval()
        self._ready = False
        self._last_ping = self._last_status = -1e9
        self._state = ""

    @staticmethod
    def _watchdog_interval() -> float | None:
        """Half of WATCHDOG_USEC, as systemd recommends, or None when no watchdog is set for us."""
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
            return None
        return int(usec) / 2e6

    def send(self, message: str) -> None:
        if self.active:
            self._notify(message)

    def on_frame(self, result: FrameResult, stats: LoopFigures) -> None:
        """Frames flow: READY the first time, then watchdog pings and a status line."""
        self._alive("running", lambda: f"running: {stats.recent_fps:.1f} fps, {len(result.faces)} faces in view, "
                                       f"{stats.frames} frames")

    def waiting(self, what: str) -> None:
        """Alive but without frames (a camera not there yet, or being reconnected): keep the watchdog fed, say why."""
        self._alive(what, lambda: what)

    def _alive(self, state: str, status: Callable[[], str]) -> None:
        if not self.active:
            return
        now = self._clock()
        if not self._ready:
            self._ready = True
            self._last_ping = self._last_status = now  # the watchdog clock starts at READY
            self._state = state
            self.send(f"READY=1\nSTATUS={status()}\nMAINPID={os.getpid()}")
            return
        if self.watchdog_interval is not None and now - self._last_ping >= self.watchdog_interval:
            self._last_ping = now
            self.send("WATCHDOG=1")
        if now - self._last_status >= STATUS_EVERY or state != self._state:
            self._state, self._last_status = state, now
            self.send(f"STATUS={status()}")

    def stopping(self) -> None:
        self.send("STOPPING=1\nSTATUS=stopping")


class _PrefixFormatter(logging.Formatter):
    """``<N>`` syslog priority prefixes, which journald reads from a service's stderr."""

    PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}

    def format(self, record: logging.LogRecord) -> str:
        return f"<{self.PRIORITY.get(record.levelno, 6)}>{super().format(record)}"


def setup_logging(level: str) -> None:
    """Journal with levels under systemd, plain stderr lines otherwise."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    for handler in list(root.handlers):
        root.removeHandler(handler)
    if os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"):
        try:
            from systemd.journal import JournalHandler

            handler: logging.Handler = JournalHandler(SYSLOG_IDENTIFIER="pi-emotion")
            handler.setFormatter(logging.Formatter("%(message)s"))
        except ImportError:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(_PrefixFormatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root.addHandler(handler)
