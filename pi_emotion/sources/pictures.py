"""Still pictures: one file, a folder of them, or a glob pattern, each read once, in name order.

Each picture is its own scene: it is searched at sizes that suit it, and no face is followed
from one picture into the next.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from pathlib import Path

import cv2

from pi_emotion.errors import UserError
from pi_emotion.paths import IMAGE_SUFFIXES
from pi_emotion.sources.base import Frame


def is_pictures(spec: str) -> bool:
    """Whether ``--source`` names pictures: a picture file, a folder, or a pattern with wildcards."""
    path = Path(spec)
    return path.suffix.lower() in IMAGE_SUFFIXES or path.is_dir() or any(c in spec for c in "*?[")


def picture_paths(spec: str) -> list[Path]:
    path = Path(spec)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    elif any(c in spec for c in "*?["):
        found = sorted(Path(p) for p in glob.glob(spec) if Path(p).suffix.lower() in IMAGE_SUFFIXES)
    else:
        found = [path] if path.is_file() else []
    if not found:
        raise UserError(f"source {spec}: no pictures found ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return found


def read_pictures(spec: str) -> Iterator[tuple[Path, Frame | None]]:
    """Each picture with its frame, or None for a file that cannot be decoded (reported, not fatal)."""
    for index, path in enumerate(picture_paths(spec)):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            yield path, None
            continue
        yield path, Frame(index, float(index), image, cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
