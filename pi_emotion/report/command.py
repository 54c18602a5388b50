"""``pi-emotion report EVENTS... -o report.html [--png FILE] [--csv DIR]``: read, summarise, draw, write."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pi_emotion.errors import UserError


def main(argv: list[str], parser_class: type[argparse.ArgumentParser]) -> int:
    p = parser_class(prog="pi-emotion report",
                     description="A self-contained HTML page of plots from events files (rotated files and "
                                 "several appliances welcome) or analyse output; recordings on their media time.")
    p.add_argument("events", nargs="+", type=Path, metavar="EVENTS",
                   help="events files (JSON lines written by --events), or analyse output (its folder or faces.csv)")
    p.add_argument("-o", "--output", type=Path, default=Path("report.html"), help="HTML page (default: report.html)")
    p.add_argument("--png", type=Path, help="also write all plots as one PNG picture")
    p.add_argument("--tracks", type=int, default=40,
                   help="per-face timelines and table rows shown, longest first (default: 40)")
    p.add_argument("--csv", type=Path, metavar="DIR",
                   help="also write what the report draws as report-timeline.csv, report-tracks.csv and "
                        "report-totals.csv in DIR")
    a = p.parse_args(argv)
    if a.tracks < 1:
        raise UserError("report: --tracks must be at least 1")

    from pi_emotion.report import plots
    from pi_emotion.report.load import load
    from pi_emotion.report.page import render
    from pi_emotion.report.summarise import span, timeline, totals, track_rows, track_stats

    started = time.perf_counter()
    plots.pyplot()  # a missing matplotlib is reported before any work
    record = load(a.events)
    loaded = time.perf_counter()
    tl = timeline(record)
    rows, faces = track_rows(record, a.tracks)
    sums = totals(record)
    tracks = track_stats(record)
    figures = [
        ("Faces in view", "faces in view over time",
         plots.png(lambda ax: plots.draw_faces(ax, record, tl), (10, 2.8))),
        ("Emotion share over time", "stacked emotion share over time",
         plots.png(lambda ax: plots.draw_shares(ax, record, tl), (10, 3.2))),
        ("Faces", "each face's shown emotion over time",
         plots.png(lambda ax: plots.draw_tracks(ax, record, tl, rows, faces), (10, max(2.0, 0.22 * len(rows) + 1)))),
        ("Totals", "emotion share over the whole record",
         plots.png(lambda ax: plots.draw_totals(ax, record, sums), (10, 0.8 + 0.4 * len(sums)))),
    ]
    longest = set(sorted(range(len(tracks)), key=lambda i: -tracks[i].duration)[:a.tracks])
    page = render(record, span(record), sums, [t for i, t in enumerate(tracks) if i in longest],
                  len(tracks), figures, time.perf_counter() - started)
    _write(a.output, page.encode())
    if a.png:
        _write(a.png, plots.combined_png(record, tl, rows, faces, sums))
    if a.csv:
        from pi_emotion.report import export

        export.write(a.csv, record, tl, tracks, sums)
    total = time.perf_counter() - started
    lines = sum(s.lines for s in record.series)
    files = len({p for s in record.series for p in s.files})
    print(f"report: {lines:,} lines from {files} file(s), read in {loaded - started:.1f} s, rendered in "
          f"{total:.1f} s -> {a.output}" + (f" and {a.png}" if a.png else "") + (f", tables in {a.csv}" if a.csv
                                                                                else ""))
    return 0


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise UserError(f"report: {path} cannot be written ({exc.strerror})") from None
