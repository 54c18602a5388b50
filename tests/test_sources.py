"""Sources: the real video decoder, and the camera adapters against stand-ins of their libraries."""

import sys
import types

import cv2
import numpy as np
import pytest
from conftest import SAMPLE

from pi_emotion.errors import UserError
from pi_emotion.sources import SourceSettings, open_source
from pi_emotion.sources.camera import CameraSource
from pi_emotion.sources.video import VideoFileSource


def read_all(source, limit=10_000):
    frames = []
    while len(frames) < limit and (frame := source.read()) is not None:
        frames.append(frame)
    return frames


def test_video_file_gives_every_frame_in_order_with_media_time():
    source = VideoFileSource(SAMPLE)
    frames = read_all(source)
    source.close()
    assert len(frames) == 180 and source.fps == 30 and source.size == (640, 480)
    assert [f.index for f in frames] == list(range(180))
    assert frames[30].t == pytest.approx(1.0)
    assert frames[0].grey.shape == (480, 640) and frames[0].image.shape == (480, 640, 3)


def test_loop_starts_again_and_time_keeps_rising():
    source = VideoFileSource(SAMPLE, loop=True)
    frames = read_all(source, limit=400)
    source.close()
    assert len(frames) == 400
    assert np.array_equal(frames[0].image, frames[180].image)
    assert frames[180].t == pytest.approx(6.0) and all(b.t > a.t for a, b in zip(frames, frames[1:]))


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_realtime_waits_when_ahead_and_skips_frames_when_behind():
    clock = FakeClock()
    source = VideoFileSource(SAMPLE, realtime=True, clock=clock, sleep=clock.sleep)
    first, second = source.read(), source.read()
    assert (first.index, second.index) == (0, 1)
    assert clock.now == pytest.approx(100.0 + 1 / 30)  # waited for frame 1's time
    clock.now += 0.5  # the caller was busy for 15 frame periods
    late = source.read()
    assert late.t == pytest.approx(second.t + 0.5 + 1 / 30, abs=1 / 30 + 1e-6)
    assert source.skipped >= 14
    source.close()


def test_not_a_video_and_missing_file_are_user_errors(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(UserError, match="not a readable video"):
        open_source(SourceSettings(str(junk)))
    with pytest.raises(UserError, match="not found"):
        open_source(SourceSettings(str(tmp_path / "missing.mp4")))


class StandInCapture:
    """Behaves like cv2.VideoCapture on a V4L2 camera: records what it was asked, serves frames, can fail."""

    def __init__(self, opened=True, frames=3, offered=(1280, 720, 25.0)):
        self.opened, self.left, self.offered = opened, frames, offered
        self.props, self.released = {}, False

    def isOpened(self):
        return self.opened

    def set(self, prop, value):
        self.props[prop] = value
        return True

    def get(self, prop):
        w, h, fps = self.offered
        return {cv2.CAP_PROP_FRAME_WIDTH: w, cv2.CAP_PROP_FRAME_HEIGHT: h, cv2.CAP_PROP_FPS: fps}.get(prop, 0)

    def read(self):
        if self.left == 0:
            return False, None
        self.left -= 1
        w, h, _ = self.offered
        return True, np.full((h, w, 3), 80, np.uint8)

    def release(self):
        self.released = True


def test_v4l2_asks_for_mjpg_size_and_rate_and_reports_what_it_got():
    cap = StandInCapture()
    source = CameraSource("/dev/video0", 640, 480, 30, capture_factory=lambda dev: cap)
    assert cap.props[cv2.CAP_PROP_FOURCC] == cv2.VideoWriter_fourcc(*"MJPG")
    assert (cap.props[cv2.CAP_PROP_FRAME_WIDTH], cap.props[cv2.CAP_PROP_FRAME_HEIGHT]) == (640, 480)
    assert cap.props[cv2.CAP_PROP_FPS] == 30
    assert source.size == (1280, 720) and source.fps == 25.0 and source.live
    frames = read_all(source)
    assert len(frames) == 3 and frames[0].grey.shape == (720, 1280)
    source.close()
    assert cap.released


def test_v4l2_camera_that_does_not_open_is_a_user_error():
    cap = StandInCapture(opened=False)
    with pytest.raises(UserError, match="could not be opened"):
        CameraSource(3, 640, 480, 30, capture_factory=lambda dev: cap)
    assert cap.released


class StandInPicamera2:
    """The parts of picamera2.Picamera2 the adapter uses, recording the configuration it receives."""

    instances: list = []
    fail_start = False

    def __init__(self):
        self.config = None
        self.started = self.closed = False
        self.captures = 0
        StandInPicamera2.instances.append(self)

    def create_video_configuration(self, main, lores, controls, buffer_count):
        return {"main": main, "lores": lores, "controls": controls, "buffer_count": buffer_count}

    def configure(self, config):
        self.config = config

    def start(self):
        if self.fail_start:
            raise RuntimeError("Camera __init__ sequence did not complete.")
        self.started = True

    def capture_arrays(self, names):
        assert names == ["main", "lores"]
        self.captures += 1
        if self.captures > 2:
            raise RuntimeError("camera went away")
        w, h = self.config["main"]["size"]
        lw, lh = self.config["lores"]["size"]
        main = np.zeros((h, w, 3), np.uint8)
        yuv = np.zeros((lh * 3 // 2, lw + 64), np.uint8)  # the stride may be padded beyond the width
        yuv[:lh, :lw] = 200
        return [main, yuv], {"SensorTimestamp": self.captures}

    def stop(self):
        self.started = False

    def close(self):
        self.closed = True


@pytest.fixture
def fake_picamera2(monkeypatch):
    module = types.ModuleType("picamera2")
    module.Picamera2 = StandInPicamera2
    StandInPicamera2.instances = []
    StandInPicamera2.fail_start = False
    monkeypatch.setitem(sys.modules, "picamera2", module)
    return StandInPicamera2


def test_picamera_configures_main_and_lores_and_hands_on_the_y_plane(fake_picamera2):
    source = open_source(SourceSettings("picamera", 640, 480, 30))
    cam = fake_picamera2.instances[0]
    assert cam.config["main"] == {"size": (640, 480), "format": "RGB888"}
    assert cam.config["lores"] == {"size": (320, 240), "format": "YUV420"}
    assert cam.config["controls"] == {"FrameRate": 30}
    frame = source.read()
    assert frame.image.shape == (480, 640, 3)
    assert frame.grey.shape == (240, 320) and int(frame.grey.min()) == 200  # Y plane only, padding cut
    assert source.read() is not None and source.read() is None  # a failing capture ends the stream
    source.close()
    assert cam.closed


def test_picamera_that_fails_to_start_or_is_missing_is_a_user_error(fake_picamera2, monkeypatch):
    fake_picamera2.fail_start = True
    with pytest.raises(UserError, match="could not be started"):
        open_source(SourceSettings("picamera"))
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(UserError, match="python3-picamera2"):
        open_source(SourceSettings("picamera"))
