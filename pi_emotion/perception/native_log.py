"""The native libraries' own log lines (LiteRT's C++ runtime, OpenCV, FFmpeg) held to ``--log-level``.

They write to the process's stderr directly, past Python's logging, so a run at ``--log-level
warning`` would still print ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.`` and
OpenCV's ``[ WARN:0@0.1] ...`` lines about problems the appliance reports in its own words.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator

# OpenCV's level for each of ours (its LOG_LEVEL_INFO 4, WARNING 3, ERROR 2): its warnings and FFmpeg's errors
# only where ours would show too
_OPENCV_LEVELS = {"debug": 4, "info": 3, "warning": 2, "error": 2}
_FFMPEG_QUIET = "-8"  # AV_LOG_QUIET, read by OpenCV's FFmpeg backend when it first starts


def follow_log_level(level: str) -> None:
    """Set OpenCV's (and its FFmpeg's) logging to match ours; call before the first video is opened."""
    import cv2

    # OpenCV 4.11 (Bookworm's pin) has cv2.setLogLevel; 4.12 and later moved it to cv2.utils.logging.
    set_level = getattr(getattr(cv2.utils, "logging", None), "setLogLevel", None) or cv2.setLogLevel
    set_level(_OPENCV_LEVELS[level])
    if level in ("warning", "error"):
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", _FFMPEG_QUIET)


@contextlib.contextmanager
def filtered_stderr(keep: Callable[[str], bool]) -> Iterator[None]:
    """Hold file descriptor 2 in a temporary file while the block runs, then pass on the lines ``keep`` accepts.

    The descriptor, not ``sys.stderr``, because C++ code writes to it directly. What another
    thread writes meanwhile (a log line) is kept or dropped by the same test, and only delayed.
    """
    sys.stderr.flush()
    with tempfile.TemporaryFile() as held:
        saved = os.dup(2)
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = b"".join(line for line in held if keep(line.decode(errors="replace")))
            if kept:
                with os.fdopen(os.dup(2), "wb") as stderr:
                    stderr.write(kept)


def runtime_info(log: logging.Logger) -> contextlib.AbstractContextManager[None]:
    """Around LiteRT calls: its ``INFO:`` lines dropped unless ``log`` shows info; its warnings and errors kept."""
    if log.isEnabledFor(logging.INFO):
        return contextlib.nullcontext()
    return filtered_stderr(lambda line: not line.startswith("INFO: "))
