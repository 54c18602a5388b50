"""Cheap per-stage timing and run totals: a few perf_counter calls per frame, bounded memory."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

# "decode" is the source's own read, in the capture thread; "capture" is the loop's wait for a frame.
STAGES = ("decode", "capture", "detect", "classify", "annotate", "output")
WINDOW = 2000  # recent samples kept per stage for medians and percentiles
BUCKETS_MS = (0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 250, 500, 1000)  # upper bounds of the /metrics histograms


@dataclass
class StageTimes:
    recent: dict[str, deque] = field(default_factory=lambda: {s: deque(maxlen=WINDOW) for s in STAGES})
    total: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    count: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))
    # samples per BUCKETS_MS bound (the last: above all bounds), over the whole run
    buckets: dict[str, list[int]] = field(default_factory=lambda: {s: [0] * (len(BUCKETS_MS) + 1) for s in STAGES})
    clock: Callable[[], float] = time.perf_counter

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = self.clock()
        try:
            yield
        finally:
            self.add(name, self.clock() - start)

    def add(self, name: str, seconds: float) -> None:
        ms = seconds * 1000
        self.recent[name].append(ms)
        self.total[name] += ms
        self.count[name] += 1
        self.buckets[name][bisect_left(BUCKETS_MS, ms)] += 1

    def summary(self) -> dict[str, dict[str, float]]:
        """Mean over the run; median and p95 over the recent window, in ms."""
        out = {}
        for name in STAGES:
            if self.count[name]:
                recent = np.fromiter(self.recent[name], float)
                out[name] = {"mean_ms": self.total[name] / self.count[name],
                             "median_ms": float(np.median(recent)), "p95_ms": float(np.percentile(recent, 95))}
        return out


@dataclass
class RunStats:
    started: float = field(default_factory=time.monotonic)
    frames: int = 0
    faces: int = 0
    frames_with_faces: int = 0
    dropped: int = 0  # live frames replaced by newer ones before the loop took them
    errors: int = 0  # frames whose classification failed
    classified: int = 0  # face views classified (a face is classified only when seen, at most at its rate)
    cuts: int = 0  # hard cuts seen (every face ends at one)
    fine_passes: int = 0  # finer detection passes for small faces
    corrupt: int = 0  # undecodable frames the source skipped
    emotions: Counter = field(default_factory=Counter)
    stages: StageTimes = field(default_factory=StageTimes)
    ended: float | None = None

    @property
    def elapsed(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    @property
    def fps(self) -> float:
        return self.frames / self.elapsed if self.elapsed > 0 else 0.0

    recent_frames: deque = field(default_factory=lambda: deque(maxlen=60))
    last_faces: int = 0

    @property
    def recent_fps(self) -> float:
        """Frame rate over the last (up to) 60 frames: what a person watching sees now."""
        if len(self.recent_frames) < 2:
            return 0.0
        span = self.recent_frames[-1] - self.recent_frames[0]
        return (len(self.recent_frames) - 1) / span if span > 0 else 0.0

    def count_faces(self, emotions: list[str]) -> None:
        self.recent_frames.append(time.monotonic())
        self.last_faces = len(emotions)
        self.frames += 1
        self.faces += len(emotions)
        self.frames_with_faces += bool(emotions)
        self.emotions.update(emotions)


def format_summary(stats: RunStats, source: str) -> str:
    """The one-screen summary printed at the end of a run."""
    lines = [f"source      {source}",
             f"frames      {stats.frames} in {stats.elapsed:.1f} s ({stats.fps:.1f} fps)",
             f"faces       {stats.faces} in {stats.frames_with_faces} frames"]
    if stats.errors:
        lines.append(f"errors      {stats.errors} frames could not be classified (see the log)")
    if stats.corrupt:
        lines.append(f"corrupt     {stats.corrupt} undecodable frames skipped")
    if stats.dropped:
        lines.append(f"dropped     {stats.dropped} frames (the loop was slower than the source)")
    if stats.faces:
        share = ", ".join(f"{e} {n / stats.faces:.0%}" for e, n in stats.emotions.most_common())
        lines.append(f"emotions    {share}")
    stage_summary = stats.stages.summary()
    if stage_summary:
        lines.append("stage ms    " + "  ".join(f"{name} {v['mean_ms']:.2f}" for name, v in stage_summary.items()))
    return "\n".join(lines)
