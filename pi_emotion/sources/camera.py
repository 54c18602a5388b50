"""USB webcams through OpenCV's V4L2 backend (a /dev/videoN path or an index)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import cv2

from pi_emotion.errors import UserError
from pi_emotion.sources.base import Frame, FrameSource


def _v4l2_capture(device: int | str) -> Any:
    return cv2.VideoCapture(device, cv2.CAP_V4L2)


class CameraSource(FrameSource):
    """Asks for MJPG at the wanted size and rate (cheap USB bandwidth); takes what the camera gives."""

    live = True
    realtime = True
    waiting = False
    corrupt = 0

    def __init__(self, device: int | str, width: int, height: int, fps: float,
                 capture_factory: Callable[[int | str], Any] = _v4l2_capture) -> None:
        self.name = f"camera {device}"
        self._cap = capture_factory(device)
        if not self._cap.isOpened():
            self._cap.release()
            raise UserError(f"camera {device} could not be opened (is it plugged in, and are you in group 'video'?)")
        self._cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self._cap.set(cv2.CAP_PROP_FPS, fps)
        self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.size = (int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)) or width,
                     int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) or height)
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or fps
        self._start = time.monotonic()
        self._index = 0

    def pace(self) -> None:
        """A camera sets its own pace: ``read`` waits for its next frame."""

    def read(self) -> Frame | None:
        ok, image = self._cap.read()
        if not ok or image is None:
            return None
        frame = Frame(self._index, time.monotonic() - self._start, image, cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
        self._index += 1
        return frame

    def close(self) -> None:
        self._cap.release()
