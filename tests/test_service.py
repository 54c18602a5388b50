"""The service protocol: its schedule on an injected clock, then for real over our own NOTIFY_SOCKET."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading

import pytest
from conftest import MODEL, ROOT, SAMPLE, frame_lines, interactive_env, wait_until
from streaming import StallingSource

from pi_emotion.config import Settings
from pi_emotion.integrations.systemd import STATUS_EVERY, Notifier
from pi_emotion.perception.classify import EmotionClassifier
from pi_emotion.results.frame import FrameResult
from pi_emotion.runtime.app import build_detector
from pi_emotion.runtime.pipeline import Pipeline
from pi_emotion.runtime.stats import RunStats


class ManualClock:
    def __init__(self):
        self.now = 50.0

    def __call__(self):
        return self.now


@pytest.fixture
def under_systemd(monkeypatch):
    """The environment systemd gives a Type=notify service with WatchdogSec=2 (pings due every second)."""
    monkeypatch.setenv("NOTIFY_SOCKET", "/run/nonexistent/notify")
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)


def test_watchdog_schedule_on_an_injected_clock(under_systemd):
    clock, sent = ManualClock(), []
    notifier = Notifier(clock=clock, notify=lambda m: sent.append((clock.now, m)) or True)
    assert notifier.watchdog_interval == 1.0
    stats = RunStats()
    for _ in range(300):  # ten seconds of frames at 30 fps
        notifier.on_frame(FrameResult(0, 0.0), stats)
        clock.now += 1 / 30
    assert sent[0][1].startswith("READY=1\nSTATUS=running")
    pings = [t for t, m in sent if m == "WATCHDOG=1"]
    gaps = [b - a for a, b in zip([sent[0][0]] + pings, pings)]
    assert len(pings) == 9 and all(1.0 <= g < 1.0 + 1 / 30 + 1e-9 for g in gaps)  # half the limit, never late
    statuses = [t for t, m in sent if m.startswith("STATUS=running")]
    assert len(statuses) == 4 and all(b - a >= STATUS_EVERY for a, b in zip(statuses, statuses[1:]))


def test_waiting_for_the_camera_is_ready_fed_and_said(under_systemd):
    clock, sent = ManualClock(), []
    notifier = Notifier(clock=clock, notify=lambda m: sent.append(m) or True)
    for _ in range(10):  # the loop's idle turns, half a second apart, with no camera yet
        notifier.waiting("waiting for camera")
        clock.now += 0.5
    notifier.on_frame(FrameResult(0, 0.0), RunStats())  # the camera came
    assert sent[0].startswith("READY=1\nSTATUS=waiting for camera")
    assert sum(m.startswith("READY=1") for m in sent) == 1
    assert sent.count("WATCHDOG=1") == 5  # each second: four while waiting, one with the first frame
    assert sent[-1].startswith("STATUS=running")  # said at once, not at the next status period


def test_outside_systemd_nothing_is_sent(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    sent = []
    notifier = Notifier(notify=sent.append)
    assert not notifier.active
    notifier.waiting("waiting for camera")
    notifier.on_frame(FrameResult(0, 0.0), RunStats())
    notifier.stopping()
    assert sent == []


def test_watchdog_interval_respects_watchdog_pid(monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", "/nonexistent")
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert Notifier().watchdog_interval == 2.0
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert Notifier().watchdog_interval is None


def test_a_hung_frame_loop_sends_no_more_pings(under_systemd):
    clock, sent = ManualClock(), []
    source = StallingSource(frames=20)
    pipeline = Pipeline(source, build_detector(Settings()), EmotionClassifier(MODEL), [])
    notifier = Notifier(clock=clock, notify=lambda m: sent.append(m) or True)

    def on_frame(result, stats):
        clock.now += 2.0  # every frame is a ping's worth later
        notifier.on_frame(result, stats)

    pipeline.hooks.append(on_frame)
    stop = threading.Event()
    thread = threading.Thread(target=pipeline.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert source.stalled.wait(30)
        # the loop goes round three more times finding no frame (it waits 0.5 s for one each time)
        assert wait_until(lambda: pipeline.stats.stages.count["capture"] >= pipeline.stats.frames + 3)
        frames = pipeline.stats.frames
        assert 1 <= frames <= 20
        assert sent.count("WATCHDOG=1") == frames - 1  # one per frame after READY; none while hung
    finally:
        stop.set()
        source.close()
        thread.join(10)


@pytest.fixture
def notify_socket(tmp_path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(60)
    yield sock, path
    sock.close()


def receive(sock, messages, until, limit=2000):
    """Datagrams appended to ``messages`` until ``until(messages)`` is true."""
    while not until(messages):
        assert len(messages) < limit, messages[-5:]
        messages.append(sock.recv(4096).decode())
    return messages


def service(args, notify_path, **env):
    return subprocess.Popen([sys.executable, "-m", "pi_emotion", *map(str, args)], cwd=ROOT, text=True,
                            env={**interactive_env(), "NOTIFY_SOCKET": str(notify_path), **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_ready_watchdog_status_and_stopping_over_the_real_protocol(notify_socket, tmp_path):
    sock, path = notify_socket
    events = tmp_path / "events.jsonl"
    proc = service(["--source", SAMPLE, "--loop", "--realtime", "--events", events], path, WATCHDOG_USEC="400000")
    try:
        messages = receive(sock, [], lambda ms: ms.count("WATCHDOG=1") >= 2)
        proc.send_signal(signal.SIGTERM)
        receive(sock, messages, lambda ms: any("STOPPING=1" in m for m in ms))
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert messages[0].startswith("READY=1\nSTATUS=running")
    assert any("STATUS=running:" in m and "fps" in m and "faces in view" in m for m in messages)
    assert proc.returncode == 0, err
    lines = events.read_bytes().split(b"\n")
    records = [json.loads(line) for line in lines[:-1]]
    assert lines[-1] == b"" and len(lines) > 1 and all("ts" in r or r.get("type") == "run" for r in records)


def healthz(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/healthz")
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


def stream_port(proc) -> int:
    """The port the service logged its browser view on."""
    for line in proc.stderr:
        if match := re.search(r"browser view at http://127\.0\.0\.1:(\d+)/", line):
            return int(match[1])
    raise AssertionError(f"the service ended without a browser view: {proc.wait()}")


def test_under_systemd_the_service_starts_without_its_source_and_takes_it_when_it_comes(notify_socket, tmp_path):
    sock, path = notify_socket
    later, events = tmp_path / "later.mp4", tmp_path / "events.jsonl"
    proc = service(["--source", later, "--realtime", "--stream", "127.0.0.1:0", "--events", events], path,
                   WATCHDOG_USEC="200000")
    try:
        port = stream_port(proc)
        messages = receive(sock, [], lambda ms: ms.count("WATCHDOG=1") >= 2)
        assert messages[0].startswith("READY=1\nSTATUS=waiting for camera")  # up: READY without a source
        status, body = healthz(port)
        assert status == 503 and body["state"] == "waiting for camera"
        shutil.copy(SAMPLE, tmp_path / "copying.mp4")
        os.replace(tmp_path / "copying.mp4", later)  # the source appears
        receive(sock, messages, lambda ms: any(m.startswith("STATUS=running") for m in ms))
        assert healthz(port)[0] == 200
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert len(frame_lines(events)) >= 1


def test_with_wait_for_source_an_interactive_run_waits_too(tmp_path):
    later, events = tmp_path / "later.mp4", tmp_path / "events.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "pi_emotion", "--source", str(later), "--wait-for-source",
                             "--events", str(events)], cwd=ROOT, env=interactive_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for line in proc.stderr:
            if "waiting for it" in line:
                break
        shutil.copy(SAMPLE, tmp_path / "copying.mp4")
        os.replace(tmp_path / "copying.mp4", later)
        out, err = proc.communicate(timeout=120)  # the file plays to its end
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert len(frame_lines(events)) == 180 and "frames      180" in out
