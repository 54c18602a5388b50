"""The numbers behind the report's plots and tables, computed with NumPy in one pass per series.

Time is cut into buckets sized for the record (about 150 at most: a minute of record gets
1 s buckets, a day 10 min), so a day of events draws as fast as an hour.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from pi_emotion.report.record import Record, Series
from pi_emotion.results.aggregate import dominant, dominant_named, shares
from pi_emotion.results.frame import UNCERTAIN

STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
MAX_BUCKETS = 150
TRACK_ROWS = 40  # per-track timelines shown (the longest-seen faces)


def bucket_seconds(span: float) -> int:
    return next((s for s in STEPS if span / s <= MAX_BUCKETS), STEPS[-1])


def _origin(record: Record, series: Series) -> float:
    """What is subtracted from a series' times: nothing on a shared wall clock or a recording's own
    media time (a face at 3 s into the clip is drawn at 3 s), else its own start."""
    if record.absolute or series.media:
        return 0.0
    starts = [series.frame_t[0]] if len(series.frame_t) else []
    starts += [s["start"] for s in series.summaries]
    return min(starts)


def frame_seconds(series: Series) -> float:
    """How long one frame lasts (the median step between frames; 0 for fewer than two)."""
    return float(np.median(np.diff(series.frame_t))) if len(series.frame_t) > 1 else 0.0


def span(record: Record) -> tuple[float, float]:
    """The record's first and last moment, the last frame's own length included (180 frames at 30 fps: 6 s)."""
    lo, hi = np.inf, -np.inf
    for s in record.series:
        origin = _origin(record, s)
        if len(s.frame_t):
            lo, hi = min(lo, s.frame_t[0] - origin), max(hi, s.frame_t[-1] - origin + frame_seconds(s))
        for row in s.summaries:
            lo, hi = min(lo, row["start"] - origin), max(hi, row["end"] - origin)
    return float(lo), float(hi)


@dataclass
class Timeline:
    start: float  # seconds (since the epoch when the record is on wall-clock time)
    step: int  # bucket length, seconds
    faces_mean: dict[str, np.ndarray]  # per series: mean faces in view per bucket (NaN: no record)
    counts: np.ndarray  # (buckets, labels): face-frames per emotion, all series together

    @property
    def times(self) -> np.ndarray:
        """Bucket centres."""
        return self.start + (np.arange(len(self.counts)) + 0.5) * self.step


def timeline(record: Record) -> Timeline:
    lo, hi = span(record)
    step = bucket_seconds(hi - lo)
    start = np.floor(lo / step) * step
    n = max(1, int(np.ceil((hi - start) / step)))
    labels = len(record.labels)
    counts = np.zeros((n, labels))
    means = {}
    for s in record.series:
        origin = _origin(record, s)
        frame_bucket = bucket_of(s.frame_t - origin, start, step, n)
        frames = np.bincount(frame_bucket, minlength=n).astype(float)
        faces = np.bincount(frame_bucket, weights=s.frame_faces, minlength=n)
        face_bucket = bucket_of(s.face_t - origin, start, step, n)
        counts += np.bincount(face_bucket * labels + s.face_emotion, minlength=n * labels).reshape(n, labels)
        weight = np.zeros(n)
        for row in s.summaries:  # an interval counts in the bucket of its middle
            b = min(int(((row["start"] + row["end"]) / 2 - origin - start) // step), n - 1)
            for name, k in row["counts"].items():
                counts[b, record.labels.index(name)] += k
            if np.isfinite(row["mean_faces_in_view"]):
                length = max(row["end"] - row["start"], 1e-9)
                faces[b] += row["mean_faces_in_view"] * length
                weight[b] += length
        with np.errstate(invalid="ignore", divide="ignore"):
            per_frame = np.where(frames > 0, faces / np.maximum(frames, 1), np.nan)
            per_time = np.where(weight > 0, faces / np.maximum(weight, 1e-9), np.nan)
        means[s.name] = np.where(frames > 0, per_frame, per_time)
    return Timeline(float(start), step, means, counts)


def bucket_of(t: np.ndarray, start: float, step: int, n: int) -> np.ndarray:
    return np.clip((t - start) // step, 0, n - 1).astype(np.int64)


@dataclass
class Totals:
    name: str
    frames: int
    duration_s: float
    faces: int  # distinct faces (tracks); summary lines add their own distinct-face counts
    face_frames: int
    counts: Counter
    labels: list[str]

    @property
    def mean_in_view(self) -> float:
        return self.face_frames / self.frames if self.frames else 0.0

    @property
    def shares(self) -> dict[str, float]:
        return shares(self.counts, self.labels)

    @property
    def dominant(self) -> str | None:
        return dominant(self.counts, self.labels)


def totals(record: Record) -> list[Totals]:
    """One row per series, and a last one for all of them when there are several."""
    rows = []
    for s in record.series:
        counts = Counter({record.labels[i]: int(n) for i, n in enumerate(np.bincount(s.face_emotion,
                                                                                      minlength=len(record.labels)))})
        faces = len(np.unique(s.face_track))
        frames, face_frames = len(s.frame_t), int(s.frame_faces.sum())
        for row in s.summaries:
            counts.update(row["counts"])
            faces += row["faces"]
            face_frames += sum(row["counts"].values())
        times = [s.frame_t[0], s.frame_t[-1] + frame_seconds(s)] if len(s.frame_t) else []
        times += [t for row in s.summaries for t in (row["start"], row["end"])]
        duration = max(times) - min(times)
        if s.summaries and not len(s.frame_t):  # summary-only: frames are counted in the lines
            frames = sum(row["frames"] for row in s.summaries)
        rows.append(Totals(s.name, frames, duration, faces, face_frames, counts, record.labels))
    if len(rows) > 1:
        everything = Counter()
        for row in rows:
            everything.update(row.counts)
        rows.append(Totals("all", sum(r.frames for r in rows), max(r.duration_s for r in rows),
                           sum(r.faces for r in rows), sum(r.face_frames for r in rows), everything, record.labels))
    return rows


@dataclass
class TrackRow:
    label: str
    first: float
    segments: list[tuple[float, float, int]]  # start, length, emotion index


def _by_track(record: Record, s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A series' faces ordered by track, then time: track ids, times on the plots' axis, emotion indices."""
    order = np.lexsort((s.face_t, s.face_track))
    return s.face_track[order], s.face_t[order] - _origin(record, s), s.face_emotion[order]


def track_rows(record: Record, limit: int = TRACK_ROWS) -> tuple[list[TrackRow], int]:
    """The ``limit`` longest-seen faces as runs of one shown emotion; and how many faces there were in all."""
    candidates: list[tuple[float, TrackRow]] = []
    for s in record.series:
        if not len(s.face_t):
            continue
        track, t, emotion = _by_track(record, s)
        frame_dt = float(np.median(np.diff(s.frame_t))) if len(s.frame_t) > 1 else 1.0
        gap = max(2.0, 5 * frame_dt)  # unseen longer than this: the run breaks
        new_track = np.r_[True, track[1:] != track[:-1]]
        breaks = new_track | np.r_[True, emotion[1:] != emotion[:-1]] | np.r_[True, np.diff(t) > gap]
        starts = np.flatnonzero(breaks)
        ends = np.r_[starts[1:], len(t)] - 1
        track_starts = np.flatnonzero(new_track)
        track_ends = np.r_[track_starts[1:], len(t)] - 1
        durations = np.round(t[track_ends] - t[track_starts], 1)  # ties (to a tenth of a second): earliest first
        keep = track_starts[np.argsort(-durations, kind="stable")[:limit]]
        prefix = f"{s.name} " if len(record.series) > 1 else ""
        for first in keep:
            tid = int(track[first])
            mask = track[starts] == tid
            segs = [(float(t[a]), float(t[b] - t[a] + frame_dt), int(emotion[a]))
                    for a, b in zip(starts[mask], ends[mask])]
            label = prefix + _track_name(tid)
            candidates.append((round(float(t[track_ends[track_starts == first][0]] - t[first]), 1),
                               TrackRow(label, float(t[first]), segs)))
    total = sum(len(np.unique(s.face_track)) for s in record.series)
    chosen = sorted(candidates, key=lambda c: -c[0])[:limit]
    return sorted((row for _, row in chosen), key=lambda r: r.first), total


@dataclass
class TrackStat:
    """One face track: where it was seen and what it showed (the report's per-track table)."""

    series: str
    run: int  # 1 unless the series holds several runs of the appliance
    track: int  # the appliance's track id, unique within its run
    first: float  # seconds, on the time axis of the plots
    last: float
    frames: int
    counts: Counter
    labels: list[str]

    @property
    def name(self) -> str:
        return _track_name((self.run - 1) << 32 | self.track)

    @property
    def duration(self) -> float:
        return self.last - self.first

    @property
    def dominant(self) -> str:
        return dominant_named(self.counts, [k for k in self.labels if k != UNCERTAIN]) or ""

    @property
    def uncertain(self) -> float:
        """Share of the track's frames shown as ``uncertain``, percent."""
        return shares(self.counts, self.labels).get(UNCERTAIN, 0.0)


def track_stats(record: Record) -> list[TrackStat]:
    """Every face track, series by series, each in order of first appearance."""
    out: list[TrackStat] = []
    for s in record.series:
        if not len(s.face_t):
            continue
        track, t, emotion = _by_track(record, s)
        starts = np.flatnonzero(np.r_[True, track[1:] != track[:-1]])
        ends = np.r_[starts[1:], len(track)]
        for a, b in sorted(zip(starts, ends), key=lambda ab: t[ab[0]]):
            counts = Counter({record.labels[i]: int(n) for i, n in enumerate(np.bincount(emotion[a:b])) if n})
            tid = int(track[a])
            out.append(TrackStat(s.name, (tid >> 32) + 1, tid & 0xFFFFFFFF, float(t[a]), float(t[b - 1]), int(b - a),
                                 counts, record.labels))
    return out


def _track_name(tid: int) -> str:
    """``#7``, or ``#7 (run 2)`` for a later run's face in a series of several runs."""
    run, number = tid >> 32, tid & 0xFFFFFFFF
    return f"#{number}" + (f" (run {run + 1})" if run else "")
