"""The framebuffer against a file-backed framebuffer and stand-in sysfs; the window against a scripted HighGUI."""

import json
import threading

import cv2
import numpy as np
import pytest

from pi_emotion.errors import UserError
from pi_emotion.outputs.display import FramebufferDisplay, open_display
from pi_emotion.outputs.window import WindowDisplay, has_gui
from pi_emotion.results.frame import FrameResult


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
    assert open_display("none", threading.Event(), threading.Event()) is None
    with pytest.raises(UserError, match="--display"):
        open_display("hdmi", threading.Event(), threading.Event())


@pytest.mark.skipif(has_gui(), reason="this OpenCV has a GUI")
def test_window_without_gui_names_the_fix():
    with pytest.raises(UserError, match="opencv-python"):
        WindowDisplay(threading.Event(), threading.Event())


class ScriptedGui:
    """OpenCV's HighGUI as a window sees it (imshow, waitKey, destroyAllWindows), with keys typed by the test.

    ``waitKey`` answers -1 (no key) until the test types one, as the real call does after its delay.
    """

    def __init__(self):
        self.cond = threading.Condition()
        self.keys: list[int] = []
        self.shown = 0
        self.calls = 0
        self.destroyed = False

    def imshow(self, title, image):
        with self.cond:
            self.shown += 1
            self.cond.notify_all()

    def waitKey(self, ms):
        with self.cond:
            self.calls += 1
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.keys, ms / 1000)
            return self.keys.pop(0) if self.keys else -1

    def destroyAllWindows(self):
        self.destroyed = True

    def type(self, key):
        """Type a key and return once the window has handled it (it is back waiting for the next)."""
        with self.cond:
            self.keys.append(ord(key) if isinstance(key, str) else key)
            self.cond.notify_all()
            assert self.cond.wait_for(lambda: not self.keys, 30)
            handled = self.calls + 1
            assert self.cond.wait_for(lambda: self.calls >= handled, 30)

    def wait_shown(self, n):
        with self.cond:
            assert self.cond.wait_for(lambda: self.shown >= n, 30)


class WatchedPause(threading.Event):
    """The pause control, counting how often the frame loop has looked at it while it was set."""

    def __init__(self):
        super().__init__()
        self.looks = 0
        self.cond = threading.Condition()

    def is_set(self):
        paused = super().is_set()
        if paused:
            with self.cond:
                self.looks += 1
                self.cond.notify_all()
        return paused

    def wait_looks(self, n):
        """Return once the loop has looked ``n`` more times and found itself paused."""
        with self.cond:
            target = self.looks + n
            assert self.cond.wait_for(lambda: self.looks >= target, 30)


def test_window_keys_save_pause_and_quit_a_real_run(tmp_path):
    from conftest import SAMPLE

    from pi_emotion.config import Settings
    from pi_emotion.runtime.app import build_classifier, build_detector, build_pipeline
    from pi_emotion.sources.video import VideoFileSource

    gui, stop, pause = ScriptedGui(), threading.Event(), WatchedPause()
    window = WindowDisplay(stop, pause, tmp_path, gui=gui, clock=lambda: 0.0)
    settings = Settings(source=str(SAMPLE))
    source = VideoFileSource(SAMPLE)
    pipeline = build_pipeline(settings, source, build_detector(settings), build_classifier(settings), [window])
    frames = []
    paused_at, ran_on = threading.Event(), threading.Event()

    def on_frame(result, stats):
        frames.append(result.frame)
        if result.frame == 5:
            gui.type(" ")  # pause
            paused_at.set()
        if result.frame == 8:
            ran_on.set()

    pipeline.hooks.append(on_frame)
    runner = threading.Thread(target=pipeline.run, args=(stop, pause))
    runner.start()
    assert paused_at.wait(60)
    assert pause.is_set()
    gui.wait_shown(1)
    gui.type("s")  # save what is on screen
    assert window.saved
    count = len(frames)
    pause.wait_looks(5)  # the loop has come round five times since, and found itself paused each time
    assert not stop.is_set() and len(frames) <= count + 1  # paused: no frames taken (one may be in flight)
    gui.type(" ")  # resume
    assert ran_on.wait(60)
    gui.type("q")
    runner.join(60)
    window.close()
    assert not runner.is_alive() and stop.is_set()
    assert count < len(frames) < 180  # it ran on after the pause, and q ended it before the file did
    assert gui.destroyed
    (png,) = window.saved
    saved = json.loads(png.with_suffix(".json").read_text())
    assert cv2.imread(str(png)).shape == (480, 640, 3) and saved["frame"] <= 6 and saved["faces"]
    source.close()


def test_escape_quits_too():
    gui, stop, pause = ScriptedGui(), threading.Event(), threading.Event()
    window = WindowDisplay(stop, pause, gui=gui)
    gui.type(27)
    assert stop.wait(30)
    window.close()
    assert gui.destroyed
