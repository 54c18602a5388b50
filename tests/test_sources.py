"""Sources: the real video decoder, and the camera adapters against stand-ins of their libraries."""

import sys
import types

import cv2
import numpy as np
import pytest
from conftest import SAMPLE

from pi_emotion.errors import UserError
from pi_emotion.runtime.capture import ThreadedCapture
from pi_emotion.runtime.stats import StageTimes
from pi_emotion.sources import open_source
from pi_emotion.sources.base import SourceSettings
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


def paced_read(source):
    source.pace()
    return source.read()


def test_realtime_waits_when_ahead_and_skips_frames_when_behind():
    clock = FakeClock()
    source = VideoFileSource(SAMPLE, realtime=True, clock=clock, sleep=clock.sleep)
    first, second = paced_read(source), paced_read(source)
    assert (first.index, second.index) == (0, 1)
    assert clock.now == pytest.approx(100.0 + 1 / 30)  # waited for frame 1's time
    clock.now += 0.5  # the caller was busy for 15 frame periods
    late = paced_read(source)
    assert late.t == pytest.approx(second.t + 0.5 + 1 / 30, abs=1 / 30 + 1e-6)
    assert source.skipped >= 14
    source.close()


def test_the_pacing_wait_of_a_realtime_file_is_not_counted_as_decoding():
    clock = FakeClock()  # the source's pacing and the stage timer share it; only the pacing moves it
    source = VideoFileSource(SAMPLE, realtime=True, clock=clock, sleep=clock.sleep)
    timer = StageTimes(clock=clock)
    capture = ThreadedCapture(source, newest_only=False, timer=timer)
    frames = [capture.read(timeout=10) for _ in range(10)]
    capture.close()
    source.close()
    assert [f.index for f in frames] == list(range(10))
    assert clock.now >= 100.0 + 9 / 30  # the pacing waited for each frame's time
    assert timer.count["decode"] >= 10 and max(timer.recent["decode"]) == 0.0


def test_with_wait_a_source_that_is_not_there_yet_is_waited_for_as_what_it_will_be(tmp_path):
    camera = open_source(SourceSettings("/dev/video99", 320, 240, 15.0), reconnect=True, wait=True)
    later = open_source(SourceSettings(str(tmp_path / "later.mp4"), realtime=True), reconnect=True, wait=True)
    plain = open_source(SourceSettings(str(tmp_path / "later.mp4")), wait=True)
    try:
        assert camera.waiting and camera.live and camera.realtime and camera.size == (320, 240)
        assert later.waiting and not later.live and later.realtime
        assert plain.waiting and not plain.realtime
    finally:
        for source in (camera, later, plain):
            source.close()
    with pytest.raises(UserError, match="could not be opened"):
        open_source(SourceSettings("/dev/video99"), reconnect=True)  # without wait: an error, as before


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
    """The parts of picamera2.Picamera2 the adapter uses, behaving as the real library does.

    ``configure`` adjusts the sizes asked for the way libcamera may (here: widths to a multiple
    of 64 for main, 128 for YUV420 lores, heights even) and records them in ``camera_config``;
    ``capture_arrays(..., wait=s)`` raises ``TimeoutError`` when no frame comes in ``s`` seconds
    (a stalled camera), and a capture job left waiting stays queued until
    ``cancel_all_and_flush``; frames carry ``SensorTimestamp`` (ns) in their metadata.
    """

    instances: list = []
    fail_start = False
    frames = 2  # frames delivered before the camera goes away
    stall = False  # instead of going away, the camera stops delivering: captures time out

    def __init__(self):
        self.camera_config = None
        self.started = self.closed = False
        self.captures = 0
        self.pending_jobs = 0
        self.calls: list[str] = []
        StandInPicamera2.instances.append(self)

    def create_video_configuration(self, main, lores, controls, buffer_count):
        return {"main": dict(main), "lores": dict(lores), "controls": controls, "buffer_count": buffer_count}

    def configure(self, config):
        self.asked = {name: config[name]["size"] for name in ("main", "lores")}
        for name, align in (("main", 64), ("lores", 128)):
            w, h = config[name]["size"]
            config[name]["size"] = (w - w % align, h - h % 2)
            config[name]["stride"] = config[name]["size"][0] + 64  # rows padded beyond the width
        self.camera_config = config

    def start(self):
        if self.fail_start:
            raise RuntimeError("Camera __init__ sequence did not complete.")
        self.started = True

    def capture_arrays(self, names, wait=None):
        assert names == ["main", "lores"]
        self.calls.append("capture")
        if self.captures >= self.frames:
            if self.stall:
                assert wait is not None, "a capture without a timeout would hang for ever"
                self.pending_jobs += 1  # the real library leaves the job queued
                raise TimeoutError
            raise RuntimeError("camera went away")
        self.captures += 1
        w, h = self.camera_config["main"]["size"]
        lw, lh = self.camera_config["lores"]["size"]
        main = np.zeros((h, w, 3), np.uint8)
        yuv = np.zeros((lh * 3 // 2, self.camera_config["lores"]["stride"]), np.uint8)
        yuv[:lh, :lw] = 200
        # 40 ms apart by the sensor's clock, whatever the host's clock says
        return [main, yuv], {"SensorTimestamp": 5_000_000_000 + self.captures * 40_000_000}

    def cancel_all_and_flush(self):
        self.calls.append("cancel_all_and_flush")
        self.pending_jobs = 0

    def stop(self):
        self.calls.append("stop")
        if self.pending_jobs:
            raise AssertionError("stop() behind a queued capture job waits for ever")
        self.started = False

    def close(self):
        self.calls.append("close")
        self.closed = True


@pytest.fixture
def fake_picamera2(monkeypatch):
    module = types.ModuleType("picamera2")
    module.Picamera2 = StandInPicamera2
    monkeypatch.setattr(StandInPicamera2, "instances", [])
    monkeypatch.setitem(sys.modules, "picamera2", module)
    return StandInPicamera2


def test_picamera_configures_main_and_lores_and_hands_on_the_y_plane(fake_picamera2):
    source = open_source(SourceSettings("picamera", 640, 480, 30))
    cam = fake_picamera2.instances[0]
    assert cam.camera_config["main"]["format"] == "RGB888" and cam.camera_config["lores"]["format"] == "YUV420"
    assert cam.asked == {"main": (640, 480), "lores": (320, 240)}
    assert cam.camera_config["controls"] == {"FrameRate": 30}
    frame = source.read()
    assert frame.image.shape == (480, 640, 3)
    assert frame.grey.shape == (240, 256) and int(frame.grey.min()) == 200  # Y plane only, padding cut
    assert source.read() is not None and source.read() is None  # a failing capture ends the stream
    source.close()
    assert cam.closed


def test_picamera_uses_the_sizes_the_library_adjusted_to(fake_picamera2):
    source = open_source(SourceSettings("picamera", 1000, 562, 30, detect_width=300))
    cam = fake_picamera2.instances[0]
    assert cam.asked == {"main": (1000, 562), "lores": (300, 168)}  # lores follows detect_width
    assert source.size == (960, 562)  # what the camera really delivers
    frame = source.read()
    assert frame.image.shape == (562, 960, 3) and frame.grey.shape == (168, 256)
    assert int(frame.grey.min()) == 200
    source.close()


def test_picamera_lores_follows_detect_width(fake_picamera2):
    open_source(SourceSettings("picamera", 1280, 720, 30, detect_width=640)).close()
    assert fake_picamera2.instances[0].asked["lores"] == (640, 360)


def test_picamera_times_frames_by_the_sensor_clock(fake_picamera2):
    source = open_source(SourceSettings("picamera"))
    first, second = source.read(), source.read()
    source.close()
    assert (first.t, second.t) == (0.0, pytest.approx(0.040))


def test_a_stalled_picamera_times_out_and_is_reopened_not_hung(fake_picamera2, monkeypatch):
    monkeypatch.setattr(fake_picamera2, "stall", True)
    monkeypatch.setattr(fake_picamera2, "frames", 3)
    source = open_source(SourceSettings("picamera"), reconnect=True)
    source.first_delay = 0.001
    frames = [source.read() for _ in range(5)]  # the 4th read meets the stall: reopen, go on
    source.close()
    stalled, reopened = fake_picamera2.instances[:2]
    assert [f.index for f in frames] == list(range(5)) and source.reconnects == 1
    assert stalled.calls[-3:] == ["cancel_all_and_flush", "stop", "close"]
    assert all(b.t > a.t for a, b in zip(frames, frames[1:]))  # time goes on across the reopen


def test_picamera_that_fails_to_start_or_is_missing_is_a_user_error(fake_picamera2, monkeypatch):
    monkeypatch.setattr(fake_picamera2, "fail_start", True)
    with pytest.raises(UserError, match="could not be started"):
        open_source(SourceSettings("picamera"))
    assert fake_picamera2.instances[0].closed
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(UserError, match="python3-picamera2"):
        open_source(SourceSettings("picamera"))
