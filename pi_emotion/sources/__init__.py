"""Frame sources behind one interface, picked from the ``--source`` string.

Hardware libraries (picamera2) are imported only when their source is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from pi_emotion.errors import UserError


@dataclass
class Frame:
    """One captured frame: BGR pixels for people, a grey image for detection, and when it was taken.

    ``grey`` may be smaller than ``image`` (picamera2's lores stream); ``t`` is media time
    for files and seconds since the source opened for cameras.
    """

    index: int
    t: float
    image: np.ndarray
    grey: np.ndarray


class FrameSource(Protocol):
    live: bool  # a camera: frames keep coming and old ones lose their value
    fps: float
    size: tuple[int, int]  # width, height of ``Frame.image``
    name: str

    def read(self) -> Frame | None:
        """The next frame, or None when the source has ended."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class SourceSettings:
    source: str
    width: int = 640
    height: int = 480
    fps: float = 30.0
    loop: bool = False
    realtime: bool = False


def open_source(settings: SourceSettings, reconnect: bool = False) -> FrameSource:
    """``picamera``, a V4L2 device path (``/dev/video0``), a camera index (``0``) or a video file.

    With ``reconnect``, a camera that fails after opening is reopened until it returns.
    """
    source = _open(settings)
    if reconnect and source.live:
        from pi_emotion.sources.reconnect import ReconnectingSource

        return ReconnectingSource(lambda: _open(settings), source)
    return source


def _open(settings: SourceSettings) -> FrameSource:
    spec = settings.source
    if spec == "picamera":
        from pi_emotion.sources.picamera import PiCameraSource

        return PiCameraSource(settings.width, settings.height, settings.fps)
    if spec.isdigit() or spec.startswith("/dev/video"):
        from pi_emotion.sources.camera import CameraSource

        return CameraSource(int(spec) if spec.isdigit() else spec, settings.width, settings.height, settings.fps)
    path = Path(spec)
    if not path.exists():
        raise UserError(f"source {spec} not found (give a video file, /dev/videoN, a camera index or 'picamera')")
    from pi_emotion.sources.video import VideoFileSource

    return VideoFileSource(path, loop=settings.loop, realtime=settings.realtime)
