"""The report as one self-contained HTML page: inline style, plots as PNG data URIs, nothing fetched."""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime

from pi_emotion import __version__
from pi_emotion.report.record import Record
from pi_emotion.report.summarise import Totals, TrackStat

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1040px; padding: 0 16px; color: #222; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: #666; } img { max-width: 100%; height: auto; display: block; margin: 8px 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 13px; }
th, td { padding: 4px 8px; border-bottom: 1px solid #ddd; text-align: right; } th:first-child, td:first-child
{ text-align: left; } code { font-size: 13px; }
"""


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h} h {rest // 60:02d} min" if h else f"{rest // 60} min {rest % 60:02d} s"


def _when(record: Record, start: float, end: float) -> str:
    if record.media:
        return f"{_duration(end - start)} of media time (each recording from its start)"
    if not record.absolute:
        return f"{_duration(end - start)} of record (the files carry no wall-clock time)"
    fmt = "%Y-%m-%d %H:%M:%S"
    return (f"{datetime.fromtimestamp(start, UTC).strftime(fmt)} to {datetime.fromtimestamp(end, UTC).strftime(fmt)}"
            f" UTC ({_duration(end - start)})")


def _table(record: Record, rows: list[Totals]) -> str:
    head = ["record", "frames", "duration", "faces seen", "mean in view", "dominant", *record.labels]
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for r in rows:
        cells = [r.name, f"{r.frames:,}", _duration(r.duration_s), f"{r.faces:,}", f"{r.mean_in_view:.2f}",
                 r.dominant or "–", *(f"{r.shares.get(label, 0.0):.1f}%" for label in record.labels)]
        out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return "\n".join(out) + "</table>"


def _at(record: Record, t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S") if record.absolute else f"{t:.1f} s"


def _tracks(record: Record, tracks: list[TrackStat], total: int) -> str:
    several = len(record.series) > 1
    head = [*(["record"] if several else []), "face", "first seen", "last seen", "duration", "frames", "dominant",
            "uncertain"]
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for t in tracks:
        cells = [*([t.series] if several else []), t.name, _at(record, t.first), _at(record, t.last),
                 f"{t.duration:.1f} s", f"{t.frames:,}", t.dominant or "–", f"{t.uncertain:.1f}%"]
        out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    shown = f"The {len(tracks)} longest-seen of {total} faces" if total > len(tracks) else f"All {total} faces"
    return (f'<p class="meta">{shown}. A face is a track id: one that leaves and comes back is counted again. '
            "Dominant: the emotion it showed most (uncertain only when it showed nothing else).</p>"
            + "\n".join(out) + "</table>")


def render(record: Record, span: tuple[float, float], sums: list[Totals], tracks: list[TrackStat], total: int,
           figures: list[tuple[str, str, bytes]], seconds: float) -> str:
    """``figures``: (heading, alt text, PNG bytes) in page order; ``tracks``: the rows of the per-face table
    (of ``total`` faces)."""
    files = ", ".join(html.escape(str(p)) for p in dict.fromkeys(p for s in record.series for p in s.files))
    lines = sum(s.lines for s in record.series)
    parts = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>pi-emotion report</title>", f"<style>{STYLE}</style></head><body>",
             "<h1>pi-emotion report</h1>", f'<p class="meta">{html.escape(_when(record, *span))}</p>',
             f'<p class="meta">{lines:,} lines from {files}</p>', "<h2>Totals</h2>", _table(record, sums),
             '<p class="meta">Shares are of face-frames: a face seen in 30 frames counts 30 times. '
             "Faces seen counts track ids: a face that leaves and comes back counts again.</p>"]
    for heading, alt, data in figures:
        uri = "data:image/png;base64," + base64.b64encode(data).decode()
        parts += [f"<h2>{html.escape(heading)}</h2>", f'<img alt="{html.escape(alt)}" src="{uri}">']
    parts += ["<h2>Each face</h2>", _tracks(record, tracks, total)]
    parts += [f'<p class="meta">Made by pi-emotion {__version__} report in {seconds:.1f} s.</p>', "</body></html>"]
    return "\n".join(parts) + "\n"
