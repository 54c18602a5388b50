"""The Raspberry Pi camera through picamera2 (apt ``python3-picamera2``), imported only here.

Two streams: ``main`` (BGR, what people see) and ``lores`` (YUV420), whose Y plane is a
grey image for detection at no conversion cost.
"""

from __future__ import annotations

import time

from pi_emotion.errors import UserError
from pi_emotion.sources import Frame

LORES_WIDTH = 320


class PiCameraSource:
    live = True

    def __init__(self, width: int, height: int, fps: float) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise UserError(f"picamera2 is not available ({exc}); on Raspberry Pi OS: sudo apt install "
                            "python3-picamera2, and create the venv with --system-site-packages") from None
        self.name = "picamera"
        lores_w = min(LORES_WIDTH, width) // 2 * 2
        lores_h = round(height * lores_w / width) // 2 * 2
        try:
            self._cam = Picamera2()
            config = self._cam.create_video_configuration(
                main={"size": (width, height), "format": "RGB888"},  # RGB888 is B, G, R in memory
                lores={"size": (lores_w, lores_h), "format": "YUV420"},
                controls={"FrameRate": fps},
                buffer_count=4,
            )
            self._cam.configure(config)
            self._cam.start()
        except (RuntimeError, IndexError, OSError) as exc:
            raise UserError(f"the Raspberry Pi camera could not be started ({exc}); is it connected and enabled?") \
                from None
        self.size = (width, height)
        self._lores = (lores_w, lores_h)
        self.fps = float(fps)
        self._start = time.monotonic()
        self._index = 0

    def read(self) -> Frame | None:
        try:
            main, yuv = self._cam.capture_arrays(["main", "lores"])[0]
        except RuntimeError:
            return None
        w, h = self._lores
        frame = Frame(self._index, time.monotonic() - self._start, main[:, :, :3], yuv[:h, :w])
        self._index += 1
        return frame

    def close(self) -> None:
        try:
            self._cam.stop()
        finally:
            self._cam.close()
