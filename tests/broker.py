"""A real Mosquitto broker on a free loopback port, real MQTT subscribers, and appliance processes to watch.

Everything waits on something observable (a broker log line, an MQTT message, an
appliance log line), never on a clock.
"""

from __future__ import annotations

import getpass
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
needs_mosquitto = pytest.mark.skipif(MOSQUITTO is None,
                                     reason="Debian's mosquitto is not installed (.ci/run installs it)")
TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lines:
    """A process's output lines, read in a thread, with waiting for a line that matches."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self.ended = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.ended = True
            self._cond.notify_all()

    def wait(self, match: Callable[[str], bool], timeout: float = TIMEOUT, after: int = 0) -> int:
        """Index of the first line from ``after`` on that matches; fails when the output ends without one."""

        def found() -> int | None:
            return next((i for i in range(after, len(self.lines)) if match(self.lines[i])), None)

        with self._cond:
            self._cond.wait_for(lambda: found() is not None or self.ended, timeout)
            index = found()
        if index is None:
            raise AssertionError("no matching line; got:\n" + "\n".join(self.lines[-30:]))
        return index

    def count(self, match: Callable[[str], bool]) -> int:
        with self._cond:
            return sum(1 for line in self.lines if match(line))


def make_certificates(directory: Path) -> Path:
    """A throw-away CA and a server certificate for 127.0.0.1 signed by it; returns the CA's PEM file."""
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=pi-emotion test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
    return directory / "ca.pem"


class Broker:
    def __init__(self, directory: Path, users: dict[str, str] | None = None, tls: bool = False) -> None:
        self._port = free_port()
        self.port_given = False
        self.config = directory / f"mosquitto-{id(self)}.conf"
        # "user": a broker started as root would otherwise switch to user mosquitto, who cannot read our files.
        self._rest = ["persistence false", "log_dest stderr", "log_type all", f"user {getpass.getuser()}"]
        if tls:  # certificates from make_certificates(directory)
            self._rest += [f"cafile {directory / 'ca.pem'}", f"certfile {directory / 'server.pem'}",
                           f"keyfile {directory / 'server.key'}"]
        if users:
            passwords = directory / "passwords"
            passwords.write_text("")
            for user, password in users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, password], check=True)
            self._rest += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            self._rest.append("allow_anonymous true")
        self.config.write_text(self._lines())
        self.proc: subprocess.Popen | None = None
        self.log: Lines | None = None

    def _lines(self) -> str:
        return "\n".join([f"listener {self._port} 127.0.0.1", *self._rest]) + "\n"

    def start(self) -> Broker:
        """Start on ``port``; a port taken meanwhile (``free_port`` only found it free) gets another one, as long
        as no client has been told this one yet (``port_given``)."""
        for _ in range(10):
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stderr=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, text=True)
            self.log = Lines(self.proc.stderr)
            self.log.wait(lambda line: "running" in line or "Error" in line)
            if self.proc.poll() is None or self.port_given or not self.log.count(lambda ln: "in use" in ln):
                break
            self.proc.wait(30)
            self._port = free_port()
            self.config.write_text(self._lines())
        assert self.proc.poll() is None, "\n".join(self.log.lines)
        self.port_given = True
        return self

    @property
    def port(self) -> int:
        self.port_given = True
        return self._port

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


class Subscriber:
    """A paho client that records every message on its topics; it resubscribes after reconnecting."""

    def __init__(self, port: int, *topics: str, user: str = "", password: str = "", ca: Path | None = None) -> None:
        from paho.mqtt.client import CallbackAPIVersion, Client

        self.messages: list = []
        self._cond = threading.Condition()
        self._topics = [(t, 1) for t in topics]
        self._subscribed: queue.Queue = queue.Queue()
        self.client = Client(CallbackAPIVersion.VERSION2, client_id=f"test-{os.getpid()}-{id(self)}")
        if user:
            self.client.username_pw_set(user, password)
        if ca is not None:
            self.client.tls_set(ca_certs=str(ca))
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(self._topics)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._subscribed.put(mid)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 2)
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()
        self._subscribed.get(timeout=TIMEOUT)

    def _on_message(self, client, userdata, message) -> None:
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()

    def wait(self, match: Callable, timeout: float = TIMEOUT, count: int = 1, after: int = 0) -> list:
        """Messages from the ``after``-th on that match, once there are ``count`` of them."""
        with self._cond:
            ok = self._cond.wait_for(lambda: sum(1 for m in self.messages[after:] if match(m)) >= count, timeout)
            found = [m for m in self.messages[after:] if match(m)]
        assert ok, f"{len(found)} of {count} messages within {timeout} s; topics seen: " \
                   f"{sorted({m.topic for m in self.messages})}"
        return found

    def sync(self) -> None:
        """Every message the broker had for us before now (the retained ones included) has arrived."""
        marker = f"test/sync/{id(self)}/{len(self.messages)}"
        self.client.subscribe(marker, 1)
        self._subscribed.get(timeout=TIMEOUT)
        self.client.publish(marker, b"sync", qos=1)
        self.wait(lambda m: m.topic == marker)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def payload(message) -> dict:
    return json.loads(message.payload)


class ApplianceProcess:
    """``python -m pi_emotion`` on the looping sample, its log lines watched."""

    def __init__(self, *args, env: dict | None = None, cwd: Path = ROOT, source: Path = SAMPLE,
                 realtime: bool = True) -> None:
        cmd = [sys.executable, "-m", "pi_emotion", "--source", str(source), "--loop",
               *(["--realtime"] if realtime else []), *map(str, args)]
        environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.log = Lines(self.proc.stderr)
        self.out = Lines(self.proc.stdout)

    def stop(self) -> int:
        """SIGTERM, as systemd stops the service; the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
