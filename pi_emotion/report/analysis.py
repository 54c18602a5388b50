"""``analyse`` output in (its folder, or its ``faces.csv``): a series per file, on the file's media time.

``faces.csv`` has a row per face per frame; ``files.csv`` beside it says how many frames each
file had and how long it is, so frames without a face count too (``faces in view`` is a mean
over every frame). Without ``files.csv`` only the frames with a face are known.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from pi_emotion.errors import UserError
from pi_emotion.report.record import Series

FACES = "faces.csv"
FILES = "files.csv"
NEEDED = ("file", "frame", "t", "track", "emotion")


def is_analysis(path: Path) -> bool:
    """An ``analyse`` output folder, or a CSV table (its ``faces.csv``)."""
    return path.is_dir() or path.suffix.lower() == ".csv"


def load(path: Path, labels: dict[str, int]) -> list[Series]:
    faces = path / FACES if path.is_dir() else path
    rows = _rows(faces)
    header = rows[0] if rows else []
    missing = [c for c in NEEDED if c not in header]
    if missing:
        raise UserError(f"{faces}: not analyse's faces table (no column {', '.join(missing)})")
    for column in header:  # the model's labels in its order, from the probability columns
        if column.startswith("p_"):
            labels.setdefault(column[2:], len(labels))
    col = {name: header.index(name) for name in NEEDED}
    by_file: dict[str, list[list[str]]] = defaultdict(list)
    for row in rows[1:]:
        by_file[row[col["file"]]].append(row)
    lengths = _lengths(faces.with_name(FILES), set(by_file))
    out = []
    for name in lengths or by_file:
        got = by_file.get(name, [])
        where = f"{faces}: {name}"
        try:
            frame = np.array([int(r[col["frame"]]) for r in got], np.int64)
            t = np.array([float(r[col["t"]]) for r in got])
            track = np.array([int(r[col["track"]]) for r in got], np.int64)
        except (ValueError, IndexError):
            raise UserError(f"{where}: frame, t and track must be numbers") from None
        emotion = np.array([labels.setdefault(r[col["emotion"]], len(labels)) for r in got], np.int32)
        frames, length = lengths.get(name, (0, 0.0))
        frame_t, frame_faces = _frames(frame, t, frames, length)
        out.append(Series(Path(name).name, [faces], absolute=False, media=True, lines=len(got),
                          frame_t=frame_t, frame_faces=frame_faces, face_t=t, face_track=track,
                          face_emotion=emotion))
    if not out:
        raise UserError(f"{faces}: no files in the table")
    return out


def _rows(path: Path) -> list[list[str]]:
    try:
        with path.open(newline="") as fh:
            return list(csv.reader(fh))
    except FileNotFoundError:
        raise UserError(f"{path}: not found (give an analyse output folder or its faces.csv)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None


def _lengths(path: Path, named: set[str]) -> dict[str, tuple[int, float]]:
    """Frames and length per file from ``files.csv``, in its order (empty when there is none)."""
    if not path.exists():
        return {}
    rows = _rows(path)
    if not rows or not {"file", "frames", "length_s"} <= set(rows[0]):
        raise UserError(f"{path}: not analyse's files table")
    f, n, s = (rows[0].index(c) for c in ("file", "frames", "length_s"))
    try:
        return {r[f]: (int(r[n]), float(r[s])) for r in rows[1:]}
    except (ValueError, IndexError):
        raise UserError(f"{path}: frames and length_s must be numbers") from None


def _frames(frame: np.ndarray, t: np.ndarray, frames: int, length: float) -> tuple[np.ndarray, np.ndarray]:
    """Every frame's time and face count; frames with no face are spread evenly over the length."""
    if not frames:  # no files table: the frames that had faces are all that is known
        known, first = np.unique(frame, return_index=True)
        return t[first], np.bincount(np.searchsorted(known, frame), minlength=len(known)).astype(np.int32)
    n = max(frames, int(frame.max()) + 1 if len(frame) else 0)
    frame_t = np.arange(n) * (length / frames if length else 0.0)
    frame_t[frame] = t  # the faces' own media times where known
    return frame_t, np.bincount(frame, minlength=n).astype(np.int32)
