"""``pi-emotion bench --soak N``: N frames of what months of service look like, compressed.

The looping sample plays as a camera at its own rate (100,000 frames is about an hour) and
drops out every few thousand frames, coming back after a failed reopen; the browser view
is on, with clients watching, polling and subscribing to events and leaving all the time;
the events file rotates. Resident memory, open files and threads are sampled. The verdict
judges the second half: memory FLAT only if its slope there is under ``FLAT_MB_PER_HOUR``
per hour of camera time (frames at the camera's rate, so an unpaced run counts as the hours
it stands for), and too short to tell when that half is under ``MIN_JUDGED_S`` of camera
time. ``paced=False`` plays the camera as fast as the machine goes; ``trace`` compares
``tracemalloc`` snapshots at the half and the end, to name what grows.
"""

from __future__ import annotations

import http.client
import json
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np

from pi_emotion.bench.pipeline import open_fds, rss_mb, served_pipeline
from pi_emotion.errors import UserError
from pi_emotion.sources.base import Frame, FrameSource
from pi_emotion.sources.video import VideoFileSource

SAMPLES = 40
EVENTS_MAX_BYTES = 64 * 1024  # small, so that a soak rotates the events file many times
FLAT_MB_PER_HOUR = 1.0  # the README's bar: under a gigabyte in about six years of service
MIN_JUDGED_S = 10 * 60  # camera time the second half must span for a slope under the bar to mean anything
TRACE_TOP = 10  # lines of code whose allocations grew most, in a traced soak


class DroppingCamera(FrameSource):
    """The looping sample played as a camera that goes away after ``frames`` frames (a loose cable)."""

    waiting = False

    def __init__(self, path: Path, frames: int, paced: bool = True) -> None:
        self.live = True  # it goes away and comes back
        self.realtime = paced  # unpaced: every frame in order as fast as the loop takes them (detection on its thread)
        self._file = VideoFileSource(path, loop=True, realtime=paced)
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


def _flaky_camera(path: Path, frames: int, paced: bool):
    """An opener whose every other attempt fails, as a camera still re-enumerating would."""
    attempts = [0]

    def open_camera() -> FrameSource:
        attempts[0] += 1
        if attempts[0] % 2:
            raise UserError("soak camera: not back yet")
        return DroppingCamera(path, frames, paced)

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


def _per_hour(samples: list[dict], key: str, fps: float) -> float:
    """Least-squares slope of ``key`` against frames, per hour of camera time at ``fps``."""
    if len(samples) < 2:
        return 0.0
    frames = np.array([s["frame"] for s in samples], float)
    y = np.array([s[key] for s in samples], float)
    if np.ptp(frames) == 0:
        return 0.0
    return round(float(np.polyfit(frames, y, 1)[0]) * fps * 3600, 2)


def _cycle_peaks(samples: list[dict], cycle: int) -> list[dict]:
    """The highest-memory sample of each camera cycle lying wholly within ``samples``.

    Memory falls when the camera drops and is reopened, so a straight line through every
    sample of a few cycles leans with where the half happens to start and end; a line
    through each cycle's peak does not.
    """
    by_cycle: dict[int, list[dict]] = {}
    for s in samples:
        by_cycle.setdefault((s["frame"] - 1) // cycle, []).append(s)
    whole = sorted(by_cycle)[1:-1]  # the first and last may be cut by the half's edges
    return [max(by_cycle[c], key=lambda s: s["rss_mb"]) for c in whole]


def verdict(samples: list[dict], fps: float, churners: int = 3, cycle: int = 0) -> dict:
    """Growth over the second half of the samples: its spread, its slope per hour, and FLAT, GROWING or TOO SHORT.

    With ``cycle`` (frames between camera drops) memory's slope is taken through each whole
    cycle's peak, where the half holds at least three.
    """
    second = samples[len(samples) // 2:]
    keys = ("rss_mb", "fds", "threads")
    growth = {k: round(max(s[k] for s in second) - min(s[k] for s in second), 1) for k in keys}
    per_hour = {k: _per_hour(second, k, fps) for k in keys}
    peaks = _cycle_peaks(second, cycle) if cycle else []
    if len(peaks) >= 3:
        per_hour["rss_mb"] = _per_hour(peaks, "rss_mb", fps)
    bound = churners * 2 + 4  # each churning client may hold a socket and a server thread at a sampling instant
    judged_s = (second[-1]["frame"] - second[0]["frame"]) / fps
    if growth["fds"] > bound or growth["threads"] > bound or per_hour["rss_mb"] >= FLAT_MB_PER_HOUR:
        word = "GROWING" if judged_s >= MIN_JUDGED_S or growth["fds"] > bound or growth["threads"] > bound \
            else "TOO SHORT"
    else:
        word = "FLAT" if judged_s >= MIN_JUDGED_S else "TOO SHORT"
    return {"growth_second_half": growth, "growth_per_hour": per_hour, "judged_camera_s": round(judged_s, 1),
            "verdict": word, "flat": word == "FLAT"}


def _grown(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> list[dict]:
    """The lines of code whose live allocations grew most between two snapshots."""
    stats = after.compare_to(before, "lineno")
    return [{"where": f"{st.traceback[0].filename}:{st.traceback[0].lineno}", "kb": round(st.size_diff / 1024, 1),
             "blocks": st.count_diff} for st in sorted(stats, key=lambda st: -st.size_diff)[:TRACE_TOP]]


def soak(settings, frames: int, churners: int = 3, paced: bool = True, trace: bool = False) -> dict:
    from pi_emotion.outputs.events import EventsWriter
    from pi_emotion.sources.reconnect import ReconnectingSource

    drop_every = max(50, min(3000, frames // 5))
    opener = _flaky_camera(Path(settings.source), drop_every, paced)
    first = DroppingCamera(Path(settings.source), drop_every, paced)
    fps = first.fps
    source = ReconnectingSource(opener, first, first_delay=0.05)
    samples: list[dict] = []
    snapshots: list[tracemalloc.Snapshot] = []
    every = max(1, frames // SAMPLES)
    started = time.monotonic()
    if trace:
        tracemalloc.start()

    def sample(result, stats) -> None:
        if stats.frames % every == 0:
            samples.append({"frame": stats.frames, "s": round(time.monotonic() - started, 1),
                            "rss_mb": round(rss_mb(), 1), "fds": open_fds(), "threads": threading.active_count()})
            if trace and stats.frames in (every * (SAMPLES // 2), every * SAMPLES):
                snapshots.append(tracemalloc.take_snapshot())

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
    grown = _grown(*snapshots) if len(snapshots) == 2 else []
    if trace:
        tracemalloc.stop()
    return {"frames": pipeline.stats.frames, "seconds": round(seconds, 1), "paced": paced, "fps": fps,
            "clients_served": counts["clients"], "client_errors": counts["errors"],
            "camera_drops": source.reconnects, "events_rotations": events.rotations, "samples": samples,
            **verdict(samples, fps, churners, drop_every), "grown_in_second_half": grown}


def format_soak(r: dict) -> str:
    lines = [f"{'frame':>8}{'s':>8}{'rss MB':>9}{'fds':>6}{'threads':>9}"]
    lines += [f"{s['frame']:>8}{s['s']:>8}{s['rss_mb']:>9}{s['fds']:>6}{s['threads']:>9}" for s in r["samples"]]
    g, h = r["growth_second_half"], r["growth_per_hour"]
    lines.append(f"{r['frames']} frames in {r['seconds']} s ({'paced' if r['paced'] else 'unpaced'}, "
                 f"{r['frames'] / r['fps'] / 3600:.2f} h of camera time); {r['camera_drops']} camera drops, "
                 f"{r['clients_served']} client rounds ({r['client_errors']} refused or cut), "
                 f"{r['events_rotations']} events-file rotations")
    lines.append(f"second half ({r['judged_camera_s'] / 60:.0f} min of camera time): growth {g['rss_mb']} MB, "
                 f"{g['fds']} fds, {g['threads']} threads; per hour: {h['rss_mb']} MB, {h['fds']} fds, "
                 f"{h['threads']} threads -> {r['verdict']}")
    for row in r["grown_in_second_half"]:
        lines.append(f"  {row['kb']:>9} kB {row['blocks']:>7} blocks  {row['where']}")
    return "\n".join(lines)


def print_soak(r: dict, as_json: bool) -> None:
    print(json.dumps(r) if as_json else format_soak(r))
