"""Faults an unattended appliance meets, made for real where they can be, with stand-ins where not."""

import errno
import json
import os
import re
import socket
import subprocess
import threading

import cv2
import numpy as np
import pytest
from conftest import MODEL, SAMPLE, frame_lines, run_cli, wait_until
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from streaming import appliance
from test_stream import Reader, get

from pi_emotion import config
from pi_emotion.config import Settings
from pi_emotion.errors import UserError
from pi_emotion.integrations.systemd import Notifier
from pi_emotion.outputs.events import EventsWriter
from pi_emotion.perception.classify import EmotionClassifier
from pi_emotion.results.frame import FrameResult
from pi_emotion.runtime.app import build_detector
from pi_emotion.runtime.pipeline import Pipeline, PipelineOptions
from pi_emotion.sources.base import FrameSource
from pi_emotion.sources.reconnect import ReconnectingSource
from pi_emotion.sources.video import VideoFileSource


class FlakyCamera(FrameSource):
    """A camera stand-in that delivers real sample frames, then fails (unplugged)."""

    live = realtime = True
    waiting = False
    corrupt = 0
    name, fps, size = "flaky", 30.0, (640, 480)

    def __init__(self, frames):
        self.inner = VideoFileSource(SAMPLE)
        self.left = frames

    def pace(self):
        pass

    def read(self):
        if self.left == 0:
            raise OSError(errno.ENODEV, "No such device")
        self.left -= 1
        return self.inner.read()

    def close(self):
        self.inner.close()


class Opener:
    """Reopens the camera: fails ``failures`` times (device node gone), then it is back."""

    def __init__(self, failures):
        self.failures = failures
        self.attempts = 0

    def __call__(self):
        self.attempts += 1
        if self.attempts <= self.failures:
            raise UserError("camera /dev/video0 could not be opened")
        return FlakyCamera(frames=1000)


class SteppingClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_camera_lost_and_back_resumes_with_backoff_and_time_goes_on():
    opener = Opener(failures=3)
    clock = SteppingClock()
    source = ReconnectingSource(opener, FlakyCamera(frames=5), first_delay=0.001, max_delay=0.004, clock=clock)
    frames = [source.read() for _ in range(5)]
    clock.now += 10.0  # the camera is away for ten seconds
    frames += [source.read() for _ in range(5)]
    source.close()
    assert [f.index for f in frames] == list(range(10))
    assert opener.attempts == 4 and source.reconnects == 1 and not source.waiting
    # the new camera counts from 0 again; the frames' times carry on from where the old one stopped
    assert frames[5].t == pytest.approx(10.0) and all(b.t > a.t for a, b in zip(frames, frames[1:]))


def test_time_never_goes_backwards_across_a_quick_reconnect():
    source = ReconnectingSource(Opener(failures=0), FlakyCamera(frames=30), first_delay=0.001,
                                clock=SteppingClock())  # the clock does not move: the reopen took no time
    frames = [source.read() for _ in range(40)]
    source.close()
    assert frames[30].t == pytest.approx(frames[29].t + 1 / 30)
    assert all(b.t > a.t for a, b in zip(frames, frames[1:]))


def test_a_camera_not_there_at_start_is_waited_for():
    opener = Opener(failures=2)
    source = ReconnectingSource(opener, None, name="/dev/video0", fps=15.0, size=(320, 240), first_delay=0.001,
                                max_delay=0.002)
    assert source.waiting and (source.name, source.fps, source.size) == ("/dev/video0", 15.0, (320, 240))
    frame = source.read()
    assert frame.index == 0 and opener.attempts == 3 and not source.waiting and source.reconnects == 0
    assert (source.name, source.size) == ("flaky", (640, 480))  # what the camera turned out to be
    source.close()


def test_while_waiting_for_the_camera_the_watchdog_is_fed_and_status_says_so(tmp_path, monkeypatch):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "n.sock"))
    sock.settimeout(30)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "n.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    opener = Opener(failures=10**9)  # never comes back during this test
    source = ReconnectingSource(opener, FlakyCamera(frames=3), first_delay=0.01, max_delay=0.05)
    pipeline = Pipeline(source, build_detector(Settings()), EmotionClassifier(MODEL), [])
    notifier = Notifier()
    pipeline.hooks.append(notifier.on_frame)
    pipeline.idle_hooks.append(notifier.waiting)
    stop = threading.Event()
    thread = threading.Thread(target=pipeline.run, args=(stop,), daemon=True)
    thread.start()
    seen = []

    def pings_while_waiting() -> int:
        start = next((i for i, m in enumerate(seen) if m == "STATUS=waiting for camera"), None)
        return 0 if start is None else sum(m == "WATCHDOG=1" for m in seen[start:])

    while pings_while_waiting() < 3:  # recv times out (and fails the test) if they never come
        seen.append(sock.recv(4096).decode())
    stop.set()
    source.close()
    thread.join(10)
    sock.close()
    assert seen[0].startswith("READY=1") and opener.attempts >= 2


def corrupt_copy(tmp_path, bad=(20, 21, 22)):
    """The sample's first 60 frames as MJPEG AVI, with some frames' JPEG data destroyed."""
    cap = cv2.VideoCapture(str(SAMPLE))
    path = tmp_path / "corrupt.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    for _ in range(60):
        writer.write(cap.read()[1])
    writer.release()
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 2) if data[i:i + 3] == b"\xff\xd8\xff"]
    for k in bad:
        data[starts[k]:starts[k] + 3000] = bytes(3000)
    path.write_bytes(bytes(data))
    return path


def test_corrupt_frames_in_a_file_are_skipped_and_counted(tmp_path):
    source = VideoFileSource(corrupt_copy(tmp_path))
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    assert len(frames) == 57 and source.corrupt == 3
    assert frames[20].t == pytest.approx(23 / 30)  # media time stays true after the gap
    proc = run_cli("--source", source._path, "--events", tmp_path / "e.jsonl")
    assert proc.returncode == 0, proc.stderr
    assert "corrupt     3 undecodable frames skipped" in proc.stdout
    assert len(frame_lines(tmp_path / "e.jsonl")) == 57


def test_disk_full_stops_only_that_output_and_keeps_the_rest(tmp_path):
    video = tmp_path / "out.mp4"
    proc = run_cli("--source", SAMPLE, "--events", "/dev/full", "--output", video)
    assert proc.returncode == 0, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and "No space left" in errors[0]
    assert "frames      180" in proc.stdout
    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 180


def test_events_file_ends_on_a_whole_line_when_the_disk_fills_mid_line(tmp_path, monkeypatch):
    path = tmp_path / "events.jsonl"
    writer = EventsWriter(path)
    writer.write(None, FrameResult(0, 0.0))
    real_write = os.write

    def half_then_full(fd, data):
        if fd == writer._fd:
            real_write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError):
        writer.write(None, FrameResult(1, 0.033))
    writer.close()
    text = path.read_text()
    assert text.endswith("\n") and [json.loads(line)["frame"] for line in text.splitlines()] == [0]


class FailsOnce(EmotionClassifier):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = 0

    def predict(self, pixels):
        self.calls += 1
        if self.calls == 3:
            raise RuntimeError("tensor arena exhausted")
        return super().predict(pixels)


def test_inference_raising_for_one_frame_does_not_end_the_run():
    source = VideoFileSource(SAMPLE)
    pipeline = Pipeline(source, build_detector(Settings()), FailsOnce(MODEL), [], PipelineOptions(max_frames=30))
    stats = pipeline.run()
    source.close()
    assert stats.frames == 30 and stats.errors == 1
    assert pipeline.classifier.calls > 3 and stats.classified >= 2 * (pipeline.classifier.calls - 1)  # went on


def test_idle_and_half_open_connections_time_out_without_harming_others():
    with appliance() as app:
        app.server.httpd.RequestHandlerClass.timeout = 0.5
        idle = socket.create_connection(("127.0.0.1", app.port))
        half = socket.create_connection(("127.0.0.1", app.port))
        half.sendall(b"GET /api/status HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        viewer = Reader(app.port)
        viewer.start()
        idle.settimeout(10)
        half.settimeout(10)
        assert idle.recv(1024) == b""  # the server hung up on the idle one
        assert half.recv(1024) == b""
        got = viewer.frames
        assert wait_until(lambda: viewer.frames > got)  # while the viewer, reading, still gets frames
        viewer.done.set()
        viewer.join(10)
        idle.close()
        half.close()


def raw_request(port, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
    return b"".join(chunks)


def test_malformed_requests_and_oversized_headers_get_4xx():
    with appliance() as app:
        assert raw_request(app.port, b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400")
        assert raw_request(app.port, b"GET / HTTP/9.9\r\n\r\n").split(b" ")[1] in (b"400", b"505")
        assert raw_request(app.port, b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n").split(b" ")[1] == b"414"
        big = b"GET /api/status HTTP/1.1\r\n" + b"X-A: " + b"b" * 70000 + b"\r\n\r\n"
        assert raw_request(app.port, big).split(b" ")[1] == b"431"
        many = b"GET /api/status HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n"
        assert raw_request(app.port, many).split(b" ")[1] == b"431"
        assert get(app.port, "/api/status")[1].status == 200


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_thousand_stream_clients_coming_and_going_leave_nothing_behind():
    with appliance() as app:
        for _ in range(20):  # warm up: server threads, encoder
            conn, resp = get(app.port, "/stream.mjpg")
            resp.close()
            conn.close()
        app.hub.next_jpeg(0, 10)
        threads, fds = threading.active_count(), open_fds()
        for i in range(1000):
            sock = socket.create_connection(("127.0.0.1", app.port))
            sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
            if i % 2:
                sock.recv(100)  # some read a little first
            sock.close()
        # server threads notice their client is gone at their next write
        gone = wait_until(lambda: app.hub.stream_clients == 0 and threading.active_count() <= threads + 1)
        assert gone, (app.hub.stream_clients, threading.active_count(), threads)
        assert open_fds() <= fds + 2


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_config_text_is_accepted_or_rejected_with_a_user_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("cfg") / "c.toml"
    path.write_bytes(text.encode("utf-8", "replace"))
    try:
        values = config.read_file(path)
    except UserError:
        return
    assert set(values) <= set(config.FIELDS)


RESPONSE_HEAD = re.compile(rb"HTTP/1\.[01] [1-5]\d\d [^\r\n]*\r\n(?:[!#-'*+.0-9A-Z^-z|~-]+: [^\r\n]*\r\n)*\r\n")


@pytest.fixture(scope="module")
def shared_appliance():
    with appliance() as app:
        yield app


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=600))
@example(b"GET /\r\n")  # an HTTP/0.9 request line: still answered with a status line
@example(b"GET /snapshot.jpg HTTP/1.1\r\n\r\nGET /api/status HTTP/1.1\r\n\r\n")
@example(b"GET /api/status HTTP/1.1\r\nX: \xff\xfe\r\n\r\n")
def test_any_bytes_sent_to_the_server_get_an_answer_or_a_hang_up(shared_appliance, data):
    port = shared_appliance.port
    shared_appliance.server.httpd.RequestHandlerClass.timeout = 0.2
    reply = raw_request(port, data)
    assert reply == b"" or RESPONSE_HEAD.match(reply), reply[:300]  # a hang-up, or a whole status line and headers
    assert get(port, "/healthz")[1].status == 200


def test_a_short_soak_goes_through_camera_drops_client_churn_and_rotation_and_does_not_call_itself_flat():
    proc = run_cli("bench", "--soak", "300", "--unpaced", "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["frames"] == 300 and [s["frame"] for s in report["samples"]] == list(range(7, 301, 7))
    assert report["clients_served"] > 0 and report["camera_drops"] >= 3 and report["events_rotations"] >= 1
    assert report["verdict"] == "TOO SHORT" and report["flat"] is False  # ten seconds of camera prove nothing


def soak_samples(frames, rss, noise=0.0, fds=16):
    rng = np.random.default_rng(1)
    return [{"frame": int(f), "s": 0.0, "rss_mb": float(r + rng.normal(0, noise)), "fds": fds, "threads": 10}
            for f, r in zip(frames, rss)]


def test_the_soak_verdict_judges_the_slope_of_the_second_half_per_hour_of_camera_time():
    from pi_emotion.bench.soak import verdict

    frames = np.linspace(5000, 100_000, 40)  # the long soak that once said FLAT at 102.8 -> 113.7 MB
    rising = verdict(soak_samples(frames, np.linspace(102.8, 113.7, 40)), fps=30)
    assert rising["verdict"] == "GROWING" and rising["growth_per_hour"]["rss_mb"] == pytest.approx(12.4, abs=0.1)
    settled = np.r_[np.linspace(100, 110, 20), np.full(20, 110.0)]  # warm-up in the first half, then level
    assert verdict(soak_samples(frames, settled, noise=0.2), fps=30)["verdict"] == "FLAT"
    creeping = 110 + 2.0 * frames / 30 / 3600  # 2 MB an hour: less than a sample's noise between two samples
    assert verdict(soak_samples(frames, creeping, noise=0.2), fps=30)["verdict"] == "GROWING"
    short = np.linspace(0, 9000, 40)  # five minutes of camera in the second half: too short either way
    assert verdict(soak_samples(short, np.full(40, 110.0)), fps=30)["verdict"] == "TOO SHORT"
    leaking_files = soak_samples(short, np.full(40, 110.0), fds=None)
    for i, s in enumerate(leaking_files):
        s["fds"] = 16 + i
    assert verdict(leaking_files, fps=30)["verdict"] == "GROWING"  # files pile up: no length needed to tell


def test_the_soak_verdict_follows_each_camera_cycles_peak_not_the_sawtooth():
    """Memory falls at each camera drop: a half that starts low and ends high is not growth."""
    from pi_emotion.bench.soak import verdict

    frames = np.arange(1, 41) * 1000  # 40 samples over 40,000 frames, the camera dropping every 4000
    saw = 99 + 8 * ((frames - 1) % 4000) / 4000  # up 8 MB within a cycle, down at the drop
    level = verdict(soak_samples(frames, saw), fps=30, cycle=4000)
    assert level["verdict"] == "FLAT" and abs(level["growth_per_hour"]["rss_mb"]) < 1
    assert verdict(soak_samples(frames, saw), fps=30)["verdict"] == "GROWING"  # every sample: misled by the saw
    rising = verdict(soak_samples(frames, saw + 10.0 * frames / 30 / 3600), fps=30, cycle=4000)
    assert rising["verdict"] == "GROWING" and rising["growth_per_hour"]["rss_mb"] == pytest.approx(10, abs=1.5)


@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MB filesystem (tmpfs), where this machine lets us mount one."""
    mount = tmp_path / "small"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if proc.returncode != 0:
        why = "needs root to mount it; CI runs as root" if os.geteuid() else \
            f"this machine does not let even root mount: {proc.stderr.decode().strip()}"
        pytest.skip(f"a real full disk needs a 1 MB tmpfs, which cannot be mounted here ({why}); "
                    "/dev/full covers the events file")
    yield mount
    subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_real_full_disk_leaves_a_playable_video_and_whole_events(small_disk):
    video, events = small_disk / "out.mp4", small_disk / "events.jsonl"
    proc = run_cli("--source", SAMPLE, "--output", video, "--events", events, "--loop", "--max-frames", "400")
    assert proc.returncode == 0, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) >= 1 and "disk nearly full" in errors[0]
    cap = cv2.VideoCapture(str(video))
    decoded = 0
    while cap.read()[0]:
        decoded += 1
    assert 30 <= decoded < 400  # stopped early, and what it wrote plays
    text = events.read_bytes()
    assert text.endswith(b"\n") and all(json.loads(line) for line in text.splitlines())
