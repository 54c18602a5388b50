"""What every frame source is: the frame it delivers, the interface the frame loop uses, its settings."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np


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
