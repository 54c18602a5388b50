"""Frame sources, picked from the ``--source`` string; the interface is in ``base``.

Each source is one file; hardware libraries (picamera2) are imported only when their
source is asked for.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pi_emotion.errors import UserError
from pi_emotion.sources.base import FrameSource, SourceSettings

log = logging.getLogger(__name__)


def is_camera(spec: str) -> bool:
    return spec == "picamera" or spec.isdigit() or spec.startswith("/dev/video")


def open_source(settings: SourceSettings, reconnect: bool = False, wait: bool = False) -> FrameSource:
    """``picamera``, a V4L2 device path (``/dev/video0``), a camera index (``0``) or a video file.

    With ``reconnect``, a camera that fails after opening is reopened until it returns. With
    ``wait``, a source that cannot be opened yet (a camera still booting, busy or unplugged)
    is not an error: it is opened with backoff until it comes, and ``waiting`` says so meanwhile.
    """
    from pi_emotion.sources.reconnect import MAX_DELAY, ReconnectingSource

    try:
        source = _open(settings)
    except UserError as exc:
        if not wait:
            raise
        log.warning("%s; waiting for it, retrying with backoff up to %.0f s", exc, MAX_DELAY)
        camera = is_camera(settings.source)
        return ReconnectingSource(lambda: _open(settings), None, name=settings.source, fps=settings.fps,
                                  size=(settings.width, settings.height), live=camera,
                                  realtime=camera or settings.realtime)
    if reconnect and source.live:
        return ReconnectingSource(lambda: _open(settings), source)
    return source


def _open(settings: SourceSettings) -> FrameSource:
    spec = settings.source
    if spec == "picamera":
        from pi_emotion.sources.picamera import PiCameraSource

        return PiCameraSource(settings.width, settings.height, settings.fps, settings.detect_width)
    if is_camera(spec):
        from pi_emotion.sources.camera import CameraSource

        return CameraSource(int(spec) if spec.isdigit() else spec, settings.width, settings.height, settings.fps)
    path = Path(spec)
    if not path.exists():
        raise UserError(f"source {spec} not found (give a video file, /dev/videoN, a camera index or 'picamera')")
    from pi_emotion.sources.video import VideoFileSource

    return VideoFileSource(path, loop=settings.loop, realtime=settings.realtime)
