"""A progress bar with rate and time left on a terminal, and nothing where no person watches.

No bar when the output is not a terminal (a pipe, a log file) or under systemd (the journal
would keep every redraw); messages are printed either way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


class _Quiet:
    def update(self, n: int = 1) -> None:
        pass

    def write(self, message: str, file=None) -> None:
        print(message, file=file or sys.stdout, flush=True)


def wanted() -> bool:
    return sys.stderr.isatty() and not (os.environ.get("JOURNAL_STREAM") or os.environ.get("NOTIFY_SOCKET"))


@contextmanager
def bar(total: int, unit: str, enabled: bool = True, description: str = "") -> Iterator:
    """``update(n)`` as work is done, ``write(message)`` for lines that must not tear the bar."""
    if not (enabled and wanted()):
        yield _Quiet()
        return
    from tqdm import tqdm

    with tqdm(total=total or None, unit=unit, desc=description, dynamic_ncols=True,
              leave=False) as progress:
        yield progress  # tqdm's own update(n) and write(message, file=)
