"""The service protocol for real: our own NOTIFY_SOCKET, the real CLI, real signals."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import cv2
import pytest
from conftest import MODEL, ROOT, SAMPLE
from streaming import StallingSource

from pi_emotion.app import build_detector
from pi_emotion.classify import EmotionClassifier
from pi_emotion.config import Settings
from pi_emotion.pipeline import Pipeline
from pi_emotion.service import Notifier


@pytest.fixture
def notify_socket(tmp_path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(30)
    yield sock, path
    sock.close()


def receive(sock, until, limit=500):
    """Datagrams with their arrival times, until ``until(messages)`` is true."""
    messages = []
    while not until(messages) and len(messages) < limit:
        messages.append((time.monotonic(), sock.recv(4096).decode()))
    return messages


def test_ready_watchdog_status_and_stopping_over_the_real_protocol(notify_socket, tmp_path):
    sock, path = notify_socket
    env = {**os.environ, "NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"}
    env.pop("WATCHDOG_PID", None)
    events, video = tmp_path / "events.jsonl", tmp_path / "out.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "pi_emotion", "--source", SAMPLE, "--loop", "--realtime",
                             "--events", events, "--output", video], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pings = lambda ms: sum(m == "WATCHDOG=1" for _, m in ms)  # noqa: E731
        messages = receive(sock, lambda ms: pings(ms) >= 4)
        proc.send_signal(signal.SIGTERM)
        messages += receive(sock, lambda ms: any("STOPPING=1" in m for _, m in ms))
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    texts = [m for _, m in messages]
    assert texts[0].startswith("READY=1")
    status = [m for m in texts if m.startswith("STATUS=running:")]
    assert status and "fps" in status[-1] and "faces in view" in status[-1]
    times = [t for t, m in messages if m == "WATCHDOG=1"]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(0.45 <= g <= 1.0 for g in gaps), gaps  # half of WATCHDOG_USEC, never past the limit
    assert any("STOPPING=1" in m for m in texts)
    assert proc.returncode == 0, err
    lines = events.read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(json.loads(line) for line in lines[:-1])
    cap = cv2.VideoCapture(str(video))
    frames = 0
    while cap.read()[0]:
        frames += 1
    assert frames == len(lines) - 1 > 0


def test_outside_systemd_nothing_is_sent(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier()
    assert not notifier.active
    notifier.stopping()  # must not raise


def test_watchdog_interval_respects_watchdog_pid(monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", "/nonexistent")
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert Notifier().watchdog_interval == 2.0
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert Notifier().watchdog_interval is None


def test_a_hung_frame_loop_stops_the_watchdog_pings(notify_socket, monkeypatch):
    sock, path = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # ping every 50 ms while frames flow
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    source = StallingSource(frames=20)
    pipeline = Pipeline(source, build_detector(Settings()), EmotionClassifier(MODEL), [])
    notifier = Notifier()
    pipeline.hooks.append(notifier.on_frame)
    stop = threading.Event()
    thread = threading.Thread(target=pipeline.run, args=(stop,), daemon=True)
    thread.start()
    assert source.stalled.wait(30)
    sock.settimeout(0.5)
    drained = 0
    with contextlib.suppress(TimeoutError):  # what was sent before the hang; ends at the first 0.5 s of silence
        while drained < 200:
            sock.recv(4096)
            drained += 1
    assert drained < 200, "pings kept coming after the source hung"
    sock.settimeout(1.0)  # 20 watchdog periods of silence
    with pytest.raises(TimeoutError):
        sock.recv(4096)
    stop.set()
    source.close()
    thread.join(10)
    assert pipeline.stats.frames <= 20
