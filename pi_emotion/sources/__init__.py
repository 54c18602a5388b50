"""Frame sources behind one interface, picked from the ``--source`` string.

Hardware libraries (picamera2) are imported only when their source is asked for.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pi_emotion.errors import UserError

log = logging.getLogger(__name__)


@dataclass
class Frame:
    """One captured frame: BGR pixels for people, a grey image for detection, and when it was taken.

    ``grey`` may be smaller than ``image`` (picamera2's lores stream); ``t`` is media time
    for files and seconds since the source opened for cameras (the sensor's own clock where
    it has one); ``wall`` is the wall clock (seconds since the epoch) when it was read.
    """

    index: int
    t: float
    image: np.ndarray
    grey: np.ndarray
    wall: float = field(default_factory=time.time)


class FrameSource(ABC):
    """What the frame loop asks of every source; each source sets every attribute below."""

    name: str
    fps: float
    size: tuple[int, int]  # width, height of ``Frame.image``
    live: bool  # a camera: a device that can be lost and opened again
    realtime: bool  # frames come at their own pace and old ones lose their value: a camera, or a paced file
    waiting: bool  # no device yet, or it was lost: being opened again, frames will come later
    corrupt: int  # undecodable frames skipped so far

    @abstractmethod
    def pace(self) -> None:
        """Wait until the next frame is due: a paced file waits here, so that ``read`` is decoding alone."""

    @abstractmethod
    def read(self) -> Frame | None:
        """The next frame, or None when the source has ended."""

    @abstractmethod
    def close(self) -> None: ...


@dataclass(frozen=True)
class SourceSettings:
    source: str
    width: int = 640
    height: int = 480
    fps: float = 30.0
    loop: bool = False
    realtime: bool = False
    detect_width: int = 320  # picamera2 delivers a grey copy this wide for detection (its lores stream)


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
