"""Events files in, one time series per appliance (or per set of rotated files) out, as NumPy arrays.

Frame lines (``{"frame", "t", "faces": [...]}``, with ``ts`` when the writer records wall
time) and summary lines (``{"type": "summary", ...}``) are read; a run line (``{"type": "run",
...}``, the first line each run writes) starts a new run, whose faces are kept apart from the
last run's; lines of other shapes are skipped. Rotated files (``events.jsonl.2``, ``.1``,
``events.jsonl``) form one series, oldest first. A malformed line stops the report with the file and line named.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from pi_emotion.errors import UserError

ROTATED = re.compile(r"^(?P<base>.+)\.(?P<n>\d+)$")


@dataclass
class Series:
    """One appliance's record. Times are seconds: since the epoch when ``absolute``, else from its start."""

    name: str
    files: list[Path]
    absolute: bool = False
    lines: int = 0
    frame_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    frame_faces: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    face_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    face_track: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # unique within the series
    face_emotion: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # index into Record.labels
    summaries: list[dict] = field(default_factory=list)  # summary lines, their start/end on this series' clock


@dataclass
class Record:
    series: list[Series]
    labels: list[str]  # the model's labels in its order, then any others met (such as "uncertain")

    @property
    def absolute(self) -> bool:
        return all(s.absolute for s in self.series)


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


class _Reader:
    """Accumulates one series' lines; raw ``t`` restarting (a new run of the appliance) starts a new run."""

    def __init__(self, labels: dict[str, int]) -> None:
        self.labels = labels
        self.frame_t: list[float] = []
        self.frame_ts: list[float] = []
        self.frame_faces: list[int] = []
        self.face_frame: list[int] = []
        self.face_track: list[int] = []
        self.face_emotion: list[int] = []
        self.summaries: list[dict] = []
        self.lines = 0
        self._run = 0
        self._last_t = -math.inf

    def label(self, name: str) -> int:
        return self.labels.setdefault(name, len(self.labels))

    def line(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            return
        if data.get("type") == "run":
            if self.frame_t or self.summaries:
                self._run += 1  # a new run of the appliance: its track ids are new faces
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
            return float(t), datetime.fromisoformat(ts).timestamp()
        except (TypeError, ValueError):
            raise UserError(f"{where}: \"ts\" is not an ISO 8601 time ({ts!r})") from None

    def _new_run(self, t: float) -> None:
        if t < self._last_t:
            self._run += 1
        self._last_t = t

    def _frame(self, data: dict, where: str) -> None:
        faces = data["faces"]
        if not isinstance(faces, list):
            raise UserError(f"{where}: \"faces\" is not a list")
        t, ts = self._time(data, where)
        self._new_run(t)
        index = len(self.frame_t)
        for i, face in enumerate(faces):
            if not isinstance(face, dict) or not isinstance(face.get("emotion"), str) \
                    or not isinstance(face.get("track"), int):
                raise UserError(f"{where}: face {i + 1} needs \"emotion\" (text) and \"track\" (integer)")
            if not self.labels and isinstance(face.get("scores"), dict):
                for name in face["scores"]:  # the model's own label order
                    self.label(name)
            self.face_frame.append(index)
            self.face_track.append(self._run << 32 | face["track"])
            self.face_emotion.append(self.label(face["emotion"]))
        self.frame_t.append(t)
        self.frame_ts.append(ts)
        self.frame_faces.append(len(faces))

    def _summary(self, data: dict, where: str) -> None:
        start, ts = self._time(data, where)
        end = data.get("end")
        if not isinstance(end, (int, float)) or end < start:
            raise UserError(f"{where}: a summary line needs \"end\" >= \"start\"")
        self._new_run(start)
        counts = data.get("counts") or {}
        if not isinstance(counts, dict) or not all(isinstance(n, int) for n in counts.values()):
            raise UserError(f"{where}: \"counts\" must map emotions to integers")
        for name in counts:
            self.label(name)
        mean = data.get("mean_faces_in_view")
        self.summaries.append({"start": start, "end": float(end), "ts": ts, "counts": counts,
                               "mean_faces_in_view": mean if isinstance(mean, (int, float)) else math.nan,
                               "faces": data.get("faces") if isinstance(data.get("faces"), int) else 0,
                               "frames": data.get("frames") if isinstance(data.get("frames"), int) else 0,
                               "suppressed": bool(data.get("suppressed"))})

    def series(self, name: str, files: list[Path]) -> Series:
        frame_ts = np.array(self.frame_ts, float)
        summary_ts = np.array([s["ts"] for s in self.summaries], float)
        absolute = bool(np.isfinite(frame_ts).all() and np.isfinite(summary_ts).all())
        frame_t = np.array(self.frame_t, float)
        if absolute:
            frame_t = frame_ts
            for s in self.summaries:  # "ts" is when the interval closed
                length = s["end"] - s["start"]
                s["start"], s["end"] = s["ts"] - length, s["ts"]
        else:
            frame_t = _continuous(frame_t)
        face_frame = np.array(self.face_frame, np.int64)
        return Series(name, files, absolute, self.lines, frame_t, np.array(self.frame_faces, np.int32),
                      frame_t[face_frame] if len(face_frame) else np.zeros(0),
                      np.array(self.face_track, np.int64), np.array(self.face_emotion, np.int32), self.summaries)


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
    labels: dict[str, int] = {}
    series = []
    for name, files in group_files(paths):
        reader = _Reader(labels)
        for path in files:
            _read_file(path, reader)
        if not reader.frame_t and not reader.summaries:
            raise UserError(f"{files[0]}: no frame or summary lines (is it a pi-emotion events file?)")
        series.append(reader.series(name, files))
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
