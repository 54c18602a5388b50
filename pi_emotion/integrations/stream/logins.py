"""Failed logins limited per client address, so a password cannot be guessed at the speed the appliance answers.

An address with ``limit`` wrong passwords within ``window`` seconds is refused (429) until the
oldest of them is ``window`` old; other addresses are not affected. Requests without credentials
(a browser's first, before it asks for the password) are not failures.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)
LIMIT = 5  # wrong passwords per address ...
WINDOW = 60.0  # ... within this many seconds


class LoginLimiter:
    def __init__(self, limit: int = LIMIT, window: float = WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._blocked: set[str] = set()  # addresses already logged as blocked
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int:
        """Seconds until ``address`` may try again; 0 when it may now."""
        with self._lock:
            failures = self._recent(address)
            if len(failures) < self.limit:
                self._blocked.discard(address)
                return 0
            return max(1, math.ceil(failures[0] + self.window - self.clock()))

    def failed(self, address: str) -> None:
        with self._lock:
            failures = self._failures.setdefault(address, deque(maxlen=self.limit))
            failures.append(self.clock())
            if len(self._recent(address)) >= self.limit and address not in self._blocked:
                self._blocked.add(address)
                log.warning("%d failed logins from %s within %g s: refusing it until they are that old", self.limit,
                            address, self.window)
            if len(self._failures) > 4096:  # a scan from many addresses: forget those with nothing recent
                for other in [a for a in self._failures if not self._recent(a)]:
                    del self._failures[other]

    def succeeded(self, address: str) -> None:
        if address in self._failures:
            with self._lock:
                self._failures.pop(address, None)
                self._blocked.discard(address)

    def _recent(self, address: str) -> deque[float]:
        """``address``'s failures within the window (older ones dropped); the lock is held."""
        failures = self._failures.get(address, deque())
        while failures and failures[0] <= self.clock() - self.window:
            failures.popleft()
        return failures
