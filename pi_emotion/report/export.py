"""``report --csv DIR``: the numbers the report draws, as tables for pandas or R.

- ``report-timeline.csv``: a row per time bucket (start, end, mean faces in view per series,
  face-frames and share per label), the data of the faces and emotion-share plots;
- ``report-tracks.csv``: a row per face track (series, run, track, first, last, duration, frames,
  dominant emotion, share of each label), the per-track table;
- ``report-totals.csv``: a row per series (and all together), the totals table and plot.

Times are seconds on the plots' axis (media time for recordings), or ISO 8601 UTC when the
record is on the wall clock.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from pi_emotion.errors import UserError
from pi_emotion.report.record import Record
from pi_emotion.report.summarise import Timeline, Totals, TrackStat
from pi_emotion.results.aggregate import shares


def write(folder: Path, record: Record, tl: Timeline, tracks: list[TrackStat], sums: list[Totals]) -> list[Path]:
    when = _clock(record)
    labels = record.labels
    timeline = [["start", "end", *(f"faces_in_view {name}" for name in tl.faces_mean),
                 *(f"count_{k}" for k in labels), *(f"share_{k}" for k in labels)]]
    for b, start in enumerate(tl.start + np.arange(len(tl.counts)) * tl.step):
        counts = tl.counts[b]
        total = counts.sum()
        timeline.append([when(start), when(start + tl.step),
                         *(_number(mean[b]) for mean in tl.faces_mean.values()), *(int(n) for n in counts),
                         *(round(100 * n / total, 1) if total else "" for n in counts)])
    per_track = [["series", "run", "track", "first", "last", "duration_s", "frames", "dominant_emotion",
                  *(f"share_{k}" for k in labels)]]
    for t in tracks:
        share = shares(t.counts, labels)
        per_track.append([t.series, t.run, t.track, when(t.first), when(t.last), round(t.duration, 3), t.frames,
                          t.dominant, *(share[k] for k in labels)])
    totals = [["series", "frames", "duration_s", "faces", "mean_faces_in_view", "dominant_emotion",
               *(f"share_{k}" for k in labels)]]
    for r in sums:
        totals.append([r.name, r.frames, round(r.duration_s, 3), r.faces, round(r.mean_in_view, 3),
                       r.dominant or "", *(r.shares.get(k, 0.0) for k in labels)])
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, rows in (("report-timeline.csv", timeline), ("report-tracks.csv", per_track),
                           ("report-totals.csv", totals)):
            with (folder / name).open("w", newline="") as fh:
                csv.writer(fh).writerows(rows)
            written.append(folder / name)
    except OSError as exc:
        raise UserError(f"report: --csv {folder} cannot be written ({exc.strerror})") from None
    return written


def _clock(record: Record):
    """Times as the CSV gives them: ISO 8601 UTC on a wall-clock record, else seconds."""
    if record.absolute:
        return lambda t: datetime.fromtimestamp(float(t), UTC).isoformat(timespec="milliseconds").replace("+00:00",
                                                                                                          "Z")
    return lambda t: round(float(t), 3)


def _number(value: float):
    return "" if not np.isfinite(value) else round(float(value), 3)
