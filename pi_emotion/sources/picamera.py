"""The Raspberry Pi camera through picamera2 (apt ``python3-picamera2``), imported only here.

Two streams: ``main`` (BGR, what people see) and ``lores`` (YUV420), whose Y plane is a
grey image for detection at no conversion cost, ``detect_width`` wide. picamera2 (libcamera)
may adjust the sizes asked for, so the sizes used are read back after ``configure()``. A
capture that does not complete in time raises ``TimeoutError`` inside picamera2; here that
ends the stream, which the reconnecting wrapper turns into a reopen rather than a hang.
"""

from __future__ import annotations

import logging
import time

from pi_emotion.errors import UserError
from pi_emotion.sources.base import Frame, FrameSource

log = logging.getLogger(__name__)
MIN_TIMEOUT = 2.0  # seconds a capture may take before the camera counts as stalled


class PiCameraSource(FrameSource):
    live = True
    realtime = True
    waiting = False
    corrupt = 0

    def __init__(self, width: int, height: int, fps: float, detect_width: int = 320) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise UserError(f"picamera2 is not available ({exc}); on Raspberry Pi OS: sudo apt install "
                            "python3-picamera2, and create the venv with --system-site-packages") from None
        self.name = "picamera"
        lores_w = min(detect_width, width) // 2 * 2
        lores_h = round(height * lores_w / width) // 2 * 2
        self._cam = None
        try:
            self._cam = Picamera2()
            config = self._cam.create_video_configuration(
                main={"size": (width, height), "format": "RGB888"},  # RGB888 is B, G, R in memory
                lores={"size": (lores_w, lores_h), "format": "YUV420"},
                controls={"FrameRate": fps},
                buffer_count=4,
            )
            self._cam.configure(config)
            configured = self._cam.camera_config  # what libcamera made of the request
            self.size = tuple(configured["main"]["size"])
            self._lores = tuple(configured["lores"]["size"])
            self._cam.start()
        except (RuntimeError, IndexError, OSError) as exc:
            if self._cam is not None:
                self._cam.close()
            raise UserError(f"the Raspberry Pi camera could not be started ({exc}); is it connected and enabled?") \
                from None
        if self.size != (width, height) or self._lores != (lores_w, lores_h):
            log.info("picamera2 adjusted the streams to %dx%d (main) and %dx%d (lores)", *self.size, *self._lores)
        self.fps = float(fps)
        self._timeout = max(MIN_TIMEOUT, 3 / self.fps)
        self._start = time.monotonic()
        self._first_ns: int | None = None
        self._index = 0

    def pace(self) -> None:
        """A camera sets its own pace: ``read`` waits for its next frame."""

    def read(self) -> Frame | None:
        try:
            (main, yuv), metadata = self._cam.capture_arrays(["main", "lores"], wait=self._timeout)
        except TimeoutError:
            log.warning("picamera: no frame within %.1f s", self._timeout)
            return None
        except RuntimeError as exc:
            log.warning("picamera: capture failed: %s", exc)
            return None
        w, h = self._lores
        frame = Frame(self._index, self._seconds(metadata), main[:, :, :3], yuv[:h, :w])
        self._index += 1
        return frame

    def _seconds(self, metadata: dict) -> float:
        """Seconds since the first frame by the sensor's own clock, or by ours where it gives none."""
        ns = metadata.get("SensorTimestamp")
        if ns is None:
            return time.monotonic() - self._start
        if self._first_ns is None:
            self._first_ns = ns
        return (ns - self._first_ns) / 1e9

    def close(self) -> None:
        try:
            self._cam.cancel_all_and_flush()  # a capture still waiting must not hold up the stop
            self._cam.stop()
        finally:
            self._cam.close()
