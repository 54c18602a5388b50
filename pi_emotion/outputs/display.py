"""Showing the annotated picture: the Linux framebuffer (HDMI without a desktop), or a desktop window."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np

from pi_emotion.errors import UserError
from pi_emotion.results.frame import FrameResult

SYSFS = Path("/sys/class/graphics")
# bits per pixel -> OpenCV conversion from BGR to the framebuffer's byte order (little-endian)
CONVERSIONS = {16: cv2.COLOR_BGR2BGR565, 24: None, 32: cv2.COLOR_BGR2BGRA}


class FramebufferDisplay:
    """Letterboxes each frame into the framebuffer's geometry and pixel format, then writes it in one go.

    Geometry and format come from sysfs (``virtual_size``, ``bits_per_pixel``, ``stride``).
    16 bpp is RGB565; 32 bpp is XRGB8888 (B, G, R, X in memory); 24 bpp is BGR888.
    """

    needs_image = True

    def __init__(self, device: Path = Path("/dev/fb0"), sysfs: Path = SYSFS) -> None:
        info = sysfs / device.name
        try:
            width, height = (int(v) for v in (info / "virtual_size").read_text().strip().split(","))
            self.bpp = int((info / "bits_per_pixel").read_text())
            stride_file = info / "stride"
            self.stride = int(stride_file.read_text()) if stride_file.exists() else width * self.bpp // 8
        except (OSError, ValueError) as exc:
            raise UserError(f"framebuffer {device}: cannot read its geometry from {info} ({exc})") from None
        if self.bpp not in CONVERSIONS:
            raise UserError(f"framebuffer {device}: {self.bpp} bits per pixel is not supported (16, 24 or 32)")
        self.size = (width, height)
        try:
            self._fd = os.open(device, os.O_WRONLY)
        except OSError as exc:
            raise UserError(f"framebuffer {device} cannot be opened ({exc.strerror}); "
                            "is the user in group 'video'?") from None
        self._canvas = np.zeros((height, width, 3), np.uint8)
        self._rows = np.zeros((height, self.stride), np.uint8)
        self._fit: tuple[int, int, int, int] | None = None

    def _placement(self, frame_size: tuple[int, int]) -> tuple[int, int, int, int]:
        fw, fh = frame_size
        w, h = self.size
        scale = min(w / fw, h / fh)
        sw, sh = max(1, int(fw * scale)), max(1, int(fh * scale))
        return (w - sw) // 2, (h - sh) // 2, sw, sh

    def write(self, image: np.ndarray | None, result: FrameResult) -> None:
        x, y, w, h = self._fit = self._placement((image.shape[1], image.shape[0]))
        self._canvas[y:y + h, x:x + w] = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        code = CONVERSIONS[self.bpp]
        pixels = self._canvas if code is None else cv2.cvtColor(self._canvas, code)
        row_bytes = self.size[0] * self.bpp // 8
        self._rows[:, :row_bytes] = pixels.reshape(self.size[1], row_bytes)
        os.pwrite(self._fd, self._rows.data, 0)

    def close(self) -> None:
        os.close(self._fd)


def open_display(spec: str, stop: threading.Event, pause: threading.Event, sysfs: Path = SYSFS):
    """``none``, ``window``, ``fb`` or ``fb:/dev/fbN``; None for no display.

    A window is steered by keys: it gets the run's ``stop`` and ``pause``.
    """
    if spec in ("", "none"):
        return None
    if spec == "window":
        from pi_emotion.outputs.window import WindowDisplay

        return WindowDisplay(stop, pause)
    if spec == "fb" or spec.startswith("fb:"):
        return FramebufferDisplay(Path(spec[3:] or "/dev/fb0"), sysfs)
    raise UserError(f"--display {spec!r}: use none, window, fb or fb:/dev/fbN")
