"""The framebuffer output against a file-backed framebuffer and a stand-in sysfs directory."""

import cv2
import numpy as np
import pytest

from pi_emotion.errors import UserError
from pi_emotion.outputs.display import FramebufferDisplay, WindowDisplay, has_gui, open_display
from pi_emotion.results import FrameResult


def fake_fb(tmp_path, width, height, bpp, stride=None):
    stride = stride or width * bpp // 8
    info = tmp_path / "sys" / "fb0"
    info.mkdir(parents=True)
    (info / "virtual_size").write_text(f"{width},{height}\n")
    (info / "bits_per_pixel").write_text(f"{bpp}\n")
    (info / "stride").write_text(f"{stride}\n")
    device = tmp_path / "fb0"
    device.write_bytes(b"\xff" * stride * height)
    return device, tmp_path / "sys", stride


def red_box_frame():
    frame = np.zeros((480, 640, 3), np.uint8)
    cv2.rectangle(frame, (100, 100), (300, 300), (0, 0, 255), cv2.FILLED)
    return frame


@pytest.mark.parametrize("bpp, red, black", [
    (16, b"\x00\xf8", b"\x00\x00"),  # RGB565, little-endian
    (32, b"\x00\x00\xff", b"\x00\x00\x00"),  # XRGB8888: B, G, R in memory, X after
])
def test_a_red_box_lands_red_letterboxed(tmp_path, bpp, red, black):
    device, sysfs, stride = fake_fb(tmp_path, 800, 480, bpp, stride=800 * bpp // 8 + 64)
    fb = FramebufferDisplay(device, sysfs)
    fb.write(red_box_frame(), FrameResult(0, 0.0))
    fb.close()
    data = device.read_bytes()
    px = bpp // 8

    def pixel(x, y):
        return data[y * stride + x * px: y * stride + x * px + len(red)]

    assert pixel(80 + 200, 200) == red  # the frame is centred: 80 px of border on each side
    assert pixel(80 + 500, 400) == black
    assert pixel(10, 200) == black  # letterbox border
    assert data[800 * px: stride] == b"\x00" * 64  # row padding written, not left stale


def test_missing_sysfs_or_odd_depth_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="geometry"):
        FramebufferDisplay(tmp_path / "fb0", tmp_path / "nosys")
    device, sysfs, _ = fake_fb(tmp_path, 64, 64, 8)
    with pytest.raises(UserError, match="8 bits"):
        FramebufferDisplay(device, sysfs)


def test_display_spec_parsing(tmp_path):
    assert open_display("none") is None
    with pytest.raises(UserError, match="--display"):
        open_display("hdmi")


@pytest.mark.skipif(has_gui(), reason="this OpenCV has a GUI")
def test_window_without_gui_names_the_fix():
    with pytest.raises(UserError, match="opencv-python"):
        WindowDisplay()
