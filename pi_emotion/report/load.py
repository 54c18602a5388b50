"""Events files (or ``analyse`` output) in, time series out, as NumPy arrays.

Frame lines (``{"frame", "t", "faces": [...]}``, with ``ts`` when the writer records wall
time) and summary lines (``{"type": "summary", ...}``) are read; a run line (``{"type": "run",
...}``, the first line each run writes) starts a new run; lines of other shapes are skipped.
A run of a file source (``"live": false``) is a series of its own on the media's time
(``t``), so a 9 s clip processed in 4 s is 9 s long and two clips never share a face; camera
runs form one series per events file on the wall clock (``ts``), each run's faces kept apart.
Rotated files (``events.jsonl.2``, ``.1``, ``events.jsonl``) are read as one, oldest first.
A ``ts`` without a time zone is UTC (what the writer records). Within a camera run, a step of the wall clock
(set after boot, or by NTP) moves the frames before it by the step, so the run keeps its own length on the
corrected clock. A malformed line stops the report with the file and line named.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from pi_emotion.errors import UserError
from pi_emotion.report import analysis
from pi_emotion.report.record import Record, Series

ROTATED = re.compile(r"^(?P<base>.+)\.(?P<n>\d+)$")
# A change this large (seconds) between one frame's wall-clock minus media time and the next one's is the clock
# being set (a Pi without a real-time clock after boot, NTP stepping it), not time passing.
CLOCK_STEP = 30.0


def group_files(paths: list[Path]) -> list[tuple[str, list[Path]]]:
    """Rotated files grouped under their base name, oldest (highest number) first; names made unique."""
    groups: dict[Path, list[tuple[int, Path]]] = defaultdict(list)
    for path in paths:
        match = ROTATED.match(path.name)
        base = path.with_name(match["base"]) if match else path
        groups[base].append((int(match["n"]) if match else 0, path))
    names = [base.name for base in groups]
    out = []
    for base, members in groups.items():
        name = base.name if names.count(base.name) == 1 else f"{base.parent.name}/{base.name}"
        out.append((name, [p for _, p in sorted(members, key=lambda m: -m[0])]))
    return out


class _Run:
    """One run's lines: a run line starts one, and so does ``t`` going back in files older than run lines."""

    def __init__(self, record: dict | None) -> None:
        self.record = record  # the run line, when the file has one
        self.frame_t: list[float] = []
        self.frame_ts: list[float] = []
        self.frame_faces: list[int] = []
        self.face_frame: list[int] = []
        self.face_track: list[int] = []
        self.face_emotion: list[int] = []
        self.summaries: list[dict] = []

    @property
    def empty(self) -> bool:
        return not self.frame_t and not self.summaries

    @property
    def media(self) -> bool:
        """A file source: its times are the media's own (``t``), whatever the processing took."""
        return self.record is not None and self.record.get("live") is False

    @property
    def source(self) -> str:
        return Path(str(self.record.get("source", ""))).name if self.record else ""


class _Reader:
    """Accumulates one events file group's lines, run by run."""

    def __init__(self, labels: dict[str, int]) -> None:
        self.labels = labels
        self.runs = [_Run(None)]
        self.lines = 0
        self._last_t = -math.inf

    def label(self, name: str) -> int:
        return self.labels.setdefault(name, len(self.labels))

    def line(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            return
        if data.get("type") == "run":
            if data.get("start") and data == self.runs[-1].record:
                return  # the same run again, at the top of the next rotated file
            if self.runs[-1].empty:
                self.runs[-1].record = data
            else:
                self.runs.append(_Run(data))
            self._last_t = -math.inf
        elif data.get("type") == "summary":
            self._summary(data, where)
        elif "faces" in data:
            self._frame(data, where)

    def _time(self, data: dict, where: str) -> tuple[float, float]:
        t = data.get("t", data.get("start"))
        if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t):
            raise UserError(f"{where}: needs a number \"t\"")
        ts = data.get("ts")
        if ts is None:
            return float(t), math.nan
        try:
            wall = datetime.fromisoformat(ts)
            return float(t), (wall if wall.tzinfo else wall.replace(tzinfo=UTC)).timestamp()
        except (TypeError, ValueError):
            raise UserError(f"{where}: \"ts\" is not an ISO 8601 time ({ts!r})") from None

    def _run_at(self, t: float) -> _Run:
        """The run this line belongs to: a new one when ``t`` went back (an older file's restart)."""
        if t < self._last_t and not self.runs[-1].empty:
            self.runs.append(_Run(None))
        self._last_t = t
        return self.runs[-1]

    def _frame(self, data: dict, where: str) -> None:
        faces = data["faces"]
        if not isinstance(faces, list):
            raise UserError(f"{where}: \"faces\" is not a list")
        t, ts = self._time(data, where)
        run = self._run_at(t)
        index = len(run.frame_t)
        for i, face in enumerate(faces):
            if not isinstance(face, dict) or not isinstance(face.get("emotion"), str) \
                    or not isinstance(face.get("track"), int):
                raise UserError(f"{where}: face {i + 1} needs \"emotion\" (text) and \"track\" (integer)")
            if not self.labels and isinstance(face.get("scores"), dict):
                for name in face["scores"]:  # the model's own label order
                    self.label(name)
            run.face_frame.append(index)
            run.face_track.append(face["track"])
            run.face_emotion.append(self.label(face["emotion"]))
        run.frame_t.append(t)
        run.frame_ts.append(ts)
        run.frame_faces.append(len(faces))

    def _summary(self, data: dict, where: str) -> None:
        start, ts = self._time(data, where)
        end = data.get("end")
        if not isinstance(end, (int, float)) or end < start:
            raise UserError(f"{where}: a summary line needs \"end\" >= \"start\"")
        run = self._run_at(start)
        counts = data.get("counts") or {}
        if not isinstance(counts, dict) or not all(isinstance(n, int) for n in counts.values()):
            raise UserError(f"{where}: \"counts\" must map emotions to integers")
        for name in counts:
            self.label(name)
        mean = data.get("mean_faces_in_view")
        run.summaries.append({"start": start, "end": float(end), "ts": ts, "counts": counts,
                              "mean_faces_in_view": mean if isinstance(mean, (int, float)) else math.nan,
                              "faces": data.get("faces") if isinstance(data.get("faces"), int) else 0,
                              "frames": data.get("frames") if isinstance(data.get("frames"), int) else 0,
                              "suppressed": bool(data.get("suppressed"))})

    def series(self, name: str, files: list[Path], prefix: str) -> list[Series]:
        """A series per file source's run, on its media time; the camera runs (and runs that do not say
        what they were) together in one, on the wall clock where every line has it."""
        runs = [r for r in self.runs if not r.empty]
        out: list[tuple[int, Series]] = []
        for i, run in enumerate(runs):
            if run.media:
                out.append((i, _build(f"{prefix}{run.source or name}", files, [run], wall=False)))
        rest = [(i, r) for i, r in enumerate(runs) if not r.media]
        if rest:
            out.append((rest[0][0], _build(name, files, [r for _, r in rest], wall=True)))
        series = [s for _, s in sorted(out, key=lambda o: o[0])]
        series[0].lines = self.lines  # the group's lines, counted once
        return series


def _build(name: str, files: list[Path], runs: list[_Run], wall: bool) -> Series:
    """One series from runs laid end to end; track ids are kept apart per run (``run << 32 | track``)."""
    cat = lambda attr, kind=float: np.array([v for r in runs for v in getattr(r, attr)], kind)  # noqa: E731
    frame_ts = cat("frame_ts")
    summaries = [s for r in runs for s in r.summaries]
    summary_ts = np.array([s["ts"] for s in summaries], float)
    absolute = wall and bool(np.isfinite(frame_ts).all() and np.isfinite(summary_ts).all())
    if absolute:
        run_of = np.repeat(np.arange(len(runs)), [len(r.frame_t) for r in runs])
        frame_t = _without_clock_steps(cat("frame_t"), frame_ts, run_of)
        for s in summaries:  # "ts" is when the interval closed
            length = s["end"] - s["start"]
            s["start"], s["end"] = s["ts"] - length, s["ts"]
    else:
        frame_t = _continuous(cat("frame_t"))
    offsets = np.cumsum([0] + [len(r.frame_t) for r in runs[:-1]])
    face_frame = np.array([off + f for off, r in zip(offsets, runs) for f in r.face_frame], np.int64)
    face_track = np.array([k << 32 | t for k, r in enumerate(runs) for t in r.face_track], np.int64)
    return Series(name, files, absolute, not wall, 0, frame_t, cat("frame_faces", np.int32),
                  frame_t[face_frame] if len(face_frame) else np.zeros(0), face_track,
                  cat("face_emotion", np.int32), summaries)


def _without_clock_steps(t: np.ndarray, ts: np.ndarray, run: np.ndarray) -> np.ndarray:
    """Wall-clock times with each run's clock steps taken out: the frames before a step move by it."""
    if len(t) < 2:
        return ts
    offset = ts - t  # steady within a run but for the clock being set
    step = np.diff(offset)
    step[(np.abs(step) <= CLOCK_STEP) | (run[1:] != run[:-1])] = 0.0
    after = np.r_[np.cumsum(step[::-1])[::-1], 0.0]  # the steps still to come, for each frame
    last = np.r_[np.flatnonzero(run[1:] != run[:-1]), len(run) - 1]  # each run's last frame
    return ts + after - after[last[np.searchsorted(last, np.arange(len(run)))]]  # this run's steps only


def _continuous(t: np.ndarray) -> np.ndarray:
    """Media times of several runs laid end to end: each restart continues where the last run stopped."""
    if len(t) < 2:
        return t
    jumps = np.flatnonzero(np.diff(t) < 0) + 1
    out = t.copy()
    for at in jumps:
        out[at:] += out[at - 1] - t[at]
    return out


def load(paths: list[Path]) -> Record:
    """Events files, or ``analyse`` output (its folder or its ``faces.csv``), as one record."""
    labels: dict[str, int] = {}
    series: list[Series] = []
    events = [p for p in paths if not analysis.is_analysis(p)]
    groups = group_files(events)
    for name, files in groups:
        reader = _Reader(labels)
        for path in files:
            _read_file(path, reader)
        if all(r.empty for r in reader.runs):
            raise UserError(f"{files[0]}: no frame or summary lines (is it a pi-emotion events file?)")
        series += reader.series(name, files, f"{name}: " if len(groups) > 1 else "")
    for path in paths:
        if analysis.is_analysis(path):
            series += analysis.load(path, labels)
    names = [s.name for s in series]
    for i, s in enumerate(series):  # a file run twice: "clip.mp4", "clip.mp4 (2)"
        earlier = names[:i].count(s.name)
        if earlier:
            s.name = f"{s.name} ({earlier + 1})"
    return Record(series, list(labels))


def _read_file(path: Path, reader: _Reader) -> None:
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise UserError(f"{path}: not found") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror})") from None
    empty = True
    with fh:
        for number, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            empty = False
            where = f"{path}:{number}"
            try:
                data = json.loads(raw)
            except ValueError:
                raise UserError(f"{where}: not a JSON line") from None
            reader.line(data, where)
            reader.lines += 1
    if empty:
        raise UserError(f"{path}: empty (no events lines)")
