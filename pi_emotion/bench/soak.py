"""``pi-emotion bench --soak N``: N frames of what months of service look like, compressed.

The looping sample plays as a camera at its own rate (100,000 frames is about an hour) and
drops out every few thousand frames, coming back after a failed reopen; the browser view
is on, with clients watching, polling and subscribing to events and leaving all the time;
the events file rotates. Resident memory, open files and threads are sampled; after the
warm-up they must stay flat. The report gives each one's growth and its growth per hour.
"""

from __future__ import annotations

import http.client
import json
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from pi_emotion.bench.pipeline import open_fds, rss_mb, served_pipeline
from pi_emotion.errors import UserError
from pi_emotion.sources.base import Frame, FrameSource
from pi_emotion.sources.video import VideoFileSource

SAMPLES = 20
EVENTS_MAX_BYTES = 64 * 1024  # small, so that a soak rotates the events file many times


class DroppingCamera(FrameSource):
    """The looping sample played as a camera that goes away after ``frames`` frames (a loose cable)."""

    live = realtime = True
    waiting = False

    def __init__(self, path: Path, frames: int) -> None:
        self._file = VideoFileSource(path, loop=True, realtime=True)
        self.name, self.fps, self.size = "soak camera", self._file.fps, self._file.size
        self._left = frames

    @property
    def corrupt(self) -> int:  # type: ignore[override]
        return self._file.corrupt

    def pace(self) -> None:
        self._file.pace()

    def read(self) -> Frame | None:
        if self._left == 0:
            return None
        self._left -= 1
        return self._file.read()

    def close(self) -> None:
        self._file.close()


def _flaky_camera(path: Path, frames: int):
    """An opener whose every other attempt fails, as a camera still re-enumerating would."""
    attempts = [0]

    def open_camera() -> FrameSource:
        attempts[0] += 1
        if attempts[0] % 2:
            raise UserError("soak camera: not back yet")
        return DroppingCamera(path, frames)

    return open_camera


def _get(port: int, path: str, headers: dict | None = None, limit: int | None = None) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        resp.read(limit) if limit else resp.read()
    finally:
        conn.close()


def _churn(port: int, stop: threading.Event, counts: dict) -> None:
    """Clients that watch, poll or subscribe for a moment and leave, one after another."""
    while not stop.is_set():
        try:
            _get(port, "/stream.mjpg", limit=200_000)
            _get(port, "/api/events?n=20")
            _get(port, "/api/events", {"Accept": "text/event-stream"}, limit=2_000)
            _get(port, "/api/status")
            _get(port, "/healthz")
            counts["clients"] += 1
        except (OSError, http.client.HTTPException):
            counts["errors"] += 1  # a 503 while the camera is away, or a refused connection: counted, not fatal


def _per_hour(samples: list[dict], key: str) -> float:
    """Least-squares slope of ``key`` against wall time, per hour."""
    if len(samples) < 2:
        return 0.0
    t = np.array([s["s"] for s in samples])
    y = np.array([s[key] for s in samples], float)
    if np.ptp(t) == 0:
        return 0.0
    return round(float(np.polyfit(t, y, 1)[0]) * 3600, 1)


def soak(settings, frames: int, churners: int = 3) -> dict:
    from pi_emotion.outputs.events import EventsWriter
    from pi_emotion.sources.reconnect import ReconnectingSource

    drop_every = max(50, min(3000, frames // 5))
    opener = _flaky_camera(Path(settings.source), drop_every)
    source = ReconnectingSource(opener, DroppingCamera(Path(settings.source), drop_every), first_delay=0.05)
    samples: list[dict] = []
    every = max(1, frames // SAMPLES)
    started = time.monotonic()

    def sample(result, stats) -> None:
        if stats.frames % every == 0:
            samples.append({"frame": stats.frames, "s": round(time.monotonic() - started, 1),
                            "rss_mb": round(rss_mb(), 1), "fds": open_fds(), "threads": threading.active_count()})

    stop = threading.Event()
    counts = {"clients": 0, "errors": 0}
    with tempfile.TemporaryDirectory() as scratch:
        events = EventsWriter(Path(scratch) / "events.jsonl", EVENTS_MAX_BYTES, keep=2)
        with served_pipeline(settings, frames, source, (events,)) as (pipeline, hub, port):
            pipeline.hooks.append(sample)
            workers = [threading.Thread(target=_churn, args=(port, stop, counts), daemon=True)
                       for _ in range(churners)]
            for w in workers:
                w.start()
            try:
                pipeline.run()
            finally:
                stop.set()
                for w in workers:
                    w.join(10)
                events.close()
    seconds = time.monotonic() - started
    settled = samples[len(samples) // 3:]  # after warm-up
    keys = ("rss_mb", "fds", "threads")
    growth = {k: round(max(s[k] for s in settled) - min(s[k] for s in settled), 1) for k in keys}
    per_hour = {k: _per_hour(settled, k) for k in keys}
    bound = churners * 2 + 4  # each churning client may hold a socket and a server thread at a sampling instant
    flat = growth["rss_mb"] <= 10 and growth["fds"] <= bound and growth["threads"] <= bound
    return {"frames": pipeline.stats.frames, "seconds": round(seconds, 1),
            "clients_served": counts["clients"], "client_errors": counts["errors"],
            "camera_drops": source.reconnects, "events_rotations": events.rotations, "samples": samples,
            "growth_after_warmup": growth, "growth_per_hour": per_hour, "flat": flat}


def format_soak(r: dict) -> str:
    lines = [f"{'frame':>8}{'s':>8}{'rss MB':>9}{'fds':>6}{'threads':>9}"]
    lines += [f"{s['frame']:>8}{s['s']:>8}{s['rss_mb']:>9}{s['fds']:>6}{s['threads']:>9}" for s in r["samples"]]
    g, h = r["growth_after_warmup"], r["growth_per_hour"]
    lines.append(f"{r['frames']} frames in {r['seconds']} s; {r['camera_drops']} camera drops, "
                 f"{r['clients_served']} client rounds ({r['client_errors']} refused or cut), "
                 f"{r['events_rotations']} events-file rotations")
    lines.append(f"growth after warm-up: {g['rss_mb']} MB, {g['fds']} fds, {g['threads']} threads; "
                 f"per hour: {h['rss_mb']} MB, {h['fds']} fds, {h['threads']} threads "
                 f"-> {'FLAT' if r['flat'] else 'GROWING'}")
    return "\n".join(lines)


def print_soak(r: dict, as_json: bool) -> None:
    print(json.dumps(r) if as_json else format_soak(r))
