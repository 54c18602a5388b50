"""Training curves: PublicTest accuracy per epoch of several runs, drawn from their history files.

``python -m pi_emotion.training.curves RUN [RUN ...] -o curves.png`` draws the model card's
training curves (``models/curves.png``). A run is a run folder (its ``history.csv``) or a history file, in either layout
the project has written: ``pi-emotion train``'s (epochs from 1, with the camera-condition
copy) or the earlier Keras log's (epochs from 0, PublicTest only). Needs matplotlib (the
``train`` extra).
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

from pi_emotion.errors import UserError

HISTORY = "history.csv"


@dataclass
class Curve:
    label: str
    epochs: list[int]  # from 1
    clean: list[float]  # PublicTest accuracy, 0..1
    camera: list[float]  # its camera-condition copy; empty where the run did not score it


def read_curve(path: Path) -> Curve:
    """One run's curve from its folder or history file; a missing or unreadable one is a ``UserError``."""
    file = path / HISTORY if path.is_dir() else path
    label = path.name if path.is_dir() else path.stem.removesuffix("-history")
    try:
        with file.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        clean = [float(r["val_accuracy"]) for r in rows]
        camera = [float(r["val_camera_accuracy"]) for r in rows] if rows and "val_camera_accuracy" in rows[0] else []
    except OSError as exc:
        raise UserError(f"{file}: {exc.strerror}") from None
    except (KeyError, ValueError, TypeError):
        raise UserError(f"{file}: not a training history (no val_accuracy column of numbers)") from None
    if not rows:
        raise UserError(f"{file}: no epochs yet")
    return Curve(label, list(range(1, len(rows) + 1)), clean, camera)


def plot(curves: list[Curve], path: Path) -> None:
    """PublicTest (solid) and its camera-condition copy (dashed), one colour per run."""
    try:
        import matplotlib
    except ImportError:
        raise UserError("curves need matplotlib: pip install 'pi-emotion[train]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for i, c in enumerate(curves):
        colour = f"C{i}"
        ax.plot(c.epochs, [100 * v for v in c.clean], color=colour, label=f"{c.label}: PublicTest")
        if c.camera:
            ax.plot(c.epochs, [100 * v for v in c.camera], color=colour, linestyle="--",
                    label=f"{c.label}: camera-condition copy")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy, % (float network, no mirror)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    try:
        fig.savefig(path)
    except (OSError, ValueError) as exc:  # a missing folder; a suffix matplotlib cannot write
        raise UserError(f"cannot write {path}: {exc}") from None
    finally:
        plt.close(fig)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m pi_emotion.training.curves",
                                description="Draw training runs' PublicTest curves into one PNG.")
    p.add_argument("runs", nargs="+", type=Path, help="run folders or history CSV files")
    p.add_argument("-o", "--output", type=Path, required=True, help="PNG to write")
    a = p.parse_args(argv)
    try:
        plot([read_curve(r) for r in a.runs], a.output)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {a.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
