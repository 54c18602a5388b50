"""The report's figures, drawn with matplotlib (the ``report`` extra) off-screen and returned as PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np

from pi_emotion.errors import UserError
from pi_emotion.perception.annotate import hex_colours as colours
from pi_emotion.report.record import Record
from pi_emotion.report.summarise import Timeline, Totals, TrackRow

DPI = 100


def pyplot():
    try:
        import matplotlib
    except ImportError:
        raise UserError("report needs matplotlib: pip install 'pi-emotion[report]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


class TimeAxis:
    """Plot positions for times in seconds: wall-clock dates, or seconds, minutes or hours from the start."""

    def __init__(self, record: Record, tl: Timeline) -> None:
        self.absolute = record.absolute
        span = len(tl.counts) * tl.step
        unit, self.div = ("s", 1) if span <= 600 else ("min", 60) if span <= 36000 else ("h", 3600)
        self.label = "time (UTC)" if self.absolute else f"media time ({unit})" if record.media \
            else f"time from start ({unit})"

    def at(self, seconds):
        seconds = np.asarray(seconds)
        return (seconds * 1000).astype("datetime64[ms]") if self.absolute else seconds / self.div

    def length(self, seconds: float):
        return np.timedelta64(max(1, int(seconds * 1000)), "ms") if self.absolute else seconds / self.div


def _step_name(step: int) -> str:
    return f"{step} s" if step < 60 else f"{step // 60} min" if step < 3600 else f"{step // 3600} h"


def draw_faces(ax, record: Record, tl: Timeline) -> None:
    axis = TimeAxis(record, tl)
    for name, mean in tl.faces_mean.items():
        ax.plot(axis.at(tl.times), mean, drawstyle="steps-mid", label=name, linewidth=1.5)
    ax.set_ylabel("faces in view")
    ax.set_xlabel(axis.label)
    ax.set_title(f"Faces in view (mean per {_step_name(tl.step)})", loc="left")
    ax.set_ylim(bottom=0)
    ax.set_xlim(axis.at(tl.start), axis.at(tl.start + len(tl.counts) * tl.step))
    if len(tl.faces_mean) > 1:
        ax.legend(loc="upper right", fontsize="small")


def draw_shares(ax, record: Record, tl: Timeline) -> None:
    axis = TimeAxis(record, tl)
    total = tl.counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, 100 * tl.counts / np.maximum(total, 1), np.nan)
    ax.stackplot(axis.at(tl.times), share.T, labels=record.labels, colors=colours(record.labels), step="mid",
                 linewidth=0)
    ax.set_ylim(0, 100)
    ax.set_xlim(axis.at(tl.start), axis.at(tl.start + len(tl.counts) * tl.step))
    ax.set_ylabel("% of faces")
    ax.set_xlabel(axis.label)
    who = "all appliances" if len(record.series) > 1 else "faces in view"
    ax.set_title(f"Emotion share per {_step_name(tl.step)} ({who})", loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False)


def draw_tracks(ax, record: Record, tl: Timeline, rows: list[TrackRow], total: int) -> None:
    axis = TimeAxis(record, tl)
    palette = colours(record.labels)
    for y, row in enumerate(rows):
        by_emotion: dict[int, list] = {}
        for start, length, emotion in row.segments:
            by_emotion.setdefault(emotion, []).append((axis.at(start), axis.length(length)))
        for emotion, spans in by_emotion.items():
            ax.broken_barh(spans, (y - 0.4, 0.8), facecolors=palette[emotion])
    ax.set_yticks(range(len(rows)), [r.label for r in rows], fontsize="x-small")
    ax.set_ylim(len(rows) - 0.5, -0.5)
    shown = f"the {len(rows)} longest-seen of {total} faces" if total > len(rows) else f"all {total} faces"
    ax.set_title(f"Each face's shown emotion over time ({shown})", loc="left")
    ax.set_xlabel(axis.label)
    ax.set_xlim(axis.at(tl.start), axis.at(tl.start + len(tl.counts) * tl.step))


def draw_totals(ax, record: Record, rows: list[Totals]) -> None:
    palette = colours(record.labels)
    names = [r.name for r in rows]
    left = np.zeros(len(rows))
    for i, label in enumerate(record.labels):
        values = np.array([r.shares.get(label, 0.0) for r in rows])
        ax.barh(names, values, left=left, color=palette[i], label=label)
        left += values
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of faces")
    ax.invert_yaxis()
    ax.set_title("Emotion share over the whole record", loc="left")


def png(draw: Callable, size: tuple[float, float]) -> bytes:
    """One figure of ``size`` inches drawn by ``draw(ax)``, as PNG bytes."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=size, dpi=DPI, layout="constrained")
    try:
        draw(ax)
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(fig)


def combined_png(record: Record, tl: Timeline, rows: list[TrackRow], total: int, sums: list[Totals]) -> bytes:
    """All plots in one picture, for ``--png``."""
    plt = pyplot()
    track_height = max(2.0, 0.22 * len(rows) + 1)
    fig, axes = plt.subplots(4, 1, figsize=(10, 2.6 + 3 + track_height + 0.6 + 0.35 * len(sums)), dpi=DPI,
                             layout="constrained",
                             height_ratios=[2.6, 3, track_height, 0.6 + 0.35 * len(sums)])
    try:
        draw_faces(axes[0], record, tl)
        draw_shares(axes[1], record, tl)
        draw_tracks(axes[2], record, tl, rows, total)
        draw_totals(axes[3], record, sums)
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(fig)
