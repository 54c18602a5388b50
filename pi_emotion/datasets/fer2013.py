"""Labelled face images from the two layouts people have: the FER2013 CSV and class folders.

NumPy and OpenCV only, so that ``evaluate`` of a TFLite model needs no TensorFlow.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pi_emotion.errors import UserError
from pi_emotion.paths import IMAGE_SUFFIXES
from pi_emotion.perception.modelmeta import FER2013_LABELS

USAGES = ("Training", "PublicTest", "PrivateTest", "all")
SPLIT_FOLDERS = {"train": "Training", "training": "Training", "val": "PublicTest", "validation": "PublicTest",
                 "valid": "PublicTest", "test": "PublicTest", "publictest": "PublicTest",
                 "privatetest": "PrivateTest"}
SYNONYMS = {
    "anger": "angry", "angry": "angry", "mad": "angry",
    "disgust": "disgust", "disgusted": "disgust",
    "fear": "fear", "fearful": "fear", "scared": "fear", "afraid": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
    "neutral": "neutral", "contempt": None,
}


@dataclass
class Dataset:
    """Grey uint8 images (N, H, W) and integer labels into ``FER2013_LABELS``.

    ``split`` names the split the rows were chosen from, None where the data has no splits.
    """

    images: np.ndarray
    labels: np.ndarray
    split: str | None = None

    def __len__(self) -> int:
        return len(self.labels)


def load(path: Path, usage: str = "all", size: tuple[int, int] = (48, 48)) -> Dataset:
    """Read a FER2013 CSV (plain or .gz) or a folder of class folders, filtered by ``usage``."""
    if usage not in USAGES:
        raise UserError(f"--usage must be one of {', '.join(USAGES)}, not {usage!r}")
    if not path.exists():
        raise UserError(f"data {path} does not exist")
    data = _load_folders(path, usage, size) if path.is_dir() else _load_csv(path, usage, size)
    if len(data) == 0:
        raise UserError(f"data {path} has no images for usage {usage!r}")
    return data


def resized(data: Dataset, size: tuple[int, int]) -> Dataset:
    """The same faces at ``size`` (width, height), shrunk as the appliance shrinks its crops."""
    if data.images.shape[2:0:-1] == tuple(size):
        return data
    return _stack([_resize(face, size) for face in data.images], list(data.labels), size, data.split)


def select_classes(data: Dataset, classes: tuple[str, ...]) -> Dataset:
    """The rows of ``classes`` (FER2013 names), labelled by their position in ``classes``."""
    unknown = [c for c in classes if c not in FER2013_LABELS]
    if unknown or len(set(classes)) != len(classes) or len(classes) < 2:
        raise UserError(f"classes must be two or more distinct names out of {', '.join(FER2013_LABELS)}, "
                        f"not {','.join(classes)}")
    index = np.full(len(FER2013_LABELS), -1)
    index[[FER2013_LABELS.index(c) for c in classes]] = np.arange(len(classes))
    keep = index[data.labels] >= 0
    return Dataset(data.images[keep], index[data.labels[keep]], data.split)


def _open_text(path: Path) -> io.TextIOBase:
    with path.open("rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt", newline="") if gz else path.open("r", newline="")


def _load_csv(path: Path, usage: str, size: tuple[int, int]) -> Dataset:
    images: list[np.ndarray] = []
    labels: list[int] = []
    try:
        with _open_text(path) as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or [h.strip() for h in header[:2]] != ["emotion", "pixels"]:
                raise UserError(f"{path}: not a FER2013 CSV (expected the header 'emotion,pixels,Usage')")
            has_usage = len(header) > 2
            for lineno, row in enumerate(reader, start=2):
                if not row:
                    continue
                if has_usage and usage != "all" and row[2].strip() != usage:
                    continue
                images.append(_parse_row(path, lineno, row, size))
                labels.append(int(row[0]))
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, csv.Error) as exc:
        raise UserError(f"{path}: unreadable CSV ({exc})") from None
    return _stack(images, labels, size, usage if has_usage and usage != "all" else None)


def _parse_row(path: Path, lineno: int, row: list[str], size: tuple[int, int]) -> np.ndarray:
    if len(row) < 2:
        raise UserError(f"{path}:{lineno}: expected 'emotion,pixels[,Usage]', got {len(row)} field(s)")
    if not row[0].strip().isdigit() or int(row[0]) >= len(FER2013_LABELS):
        raise UserError(f"{path}:{lineno}: emotion {row[0]!r} is not a class index 0..{len(FER2013_LABELS) - 1}")
    try:
        pixels = np.array(row[1].split(), dtype=np.int32)
    except ValueError:
        raise UserError(f"{path}:{lineno}: pixels must be space-separated integers") from None
    side = int(round(len(pixels) ** 0.5))
    if side * side != len(pixels) or side < 8:
        raise UserError(f"{path}:{lineno}: {len(pixels)} pixels do not make a square image (48x48 = 2304)")
    if pixels.min() < 0 or pixels.max() > 255:
        raise UserError(f"{path}:{lineno}: pixel values must lie in 0..255")
    return _resize(pixels.astype(np.uint8).reshape(side, side), size)


def _resize(grey: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if grey.shape[::-1] == tuple(size):
        return grey
    import cv2

    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)


def _stack(images: list[np.ndarray], labels: list[int], size: tuple[int, int], split: str | None) -> Dataset:
    w, h = size
    stacked = np.stack(images) if images else np.zeros((0, h, w), np.uint8)
    return Dataset(stacked, np.array(labels, dtype=np.int64), split)


def class_of_folder(name: str) -> str | None:
    """Canonical FER2013 label for a folder name, None for a known class the model lacks."""
    key = name.strip().lower()
    if key not in SYNONYMS:
        raise KeyError(name)
    return SYNONYMS[key]


def labelled_files(root: Path, usage: str = "all") -> list[tuple[Path, int]]:
    """Picture files of a folder of class folders (optionally under split folders), with their labels."""
    subdirs = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    splits = {name: p for name, p in subdirs.items() if name in SPLIT_FOLDERS}
    if splits:
        roots = [p for name, p in splits.items() if usage == "all" or SPLIT_FOLDERS[name] == usage]
    else:
        roots = [root]
    found: list[tuple[Path, int]] = []
    for split_root in sorted(roots):
        class_dirs = sorted(p for p in split_root.iterdir() if p.is_dir())
        if not class_dirs:
            raise UserError(f"{split_root}: no class folders (expected angry/, happy/, ...)")
        for class_dir in class_dirs:
            try:
                label = class_of_folder(class_dir.name)
            except KeyError:
                raise UserError(
                    f"{class_dir}: unknown class folder {class_dir.name!r}; use one of {', '.join(FER2013_LABELS)}"
                ) from None
            if label is None:
                continue
            found += [(file, FER2013_LABELS.index(label)) for file in sorted(class_dir.iterdir())
                      if file.suffix.lower() in IMAGE_SUFFIXES]
    return found


def _has_splits(root: Path) -> bool:
    return any(p.is_dir() and p.name.lower() in SPLIT_FOLDERS for p in root.iterdir())


def _load_folders(root: Path, usage: str, size: tuple[int, int]) -> Dataset:
    import cv2

    images: list[np.ndarray] = []
    labels: list[int] = []
    for file, label in labelled_files(root, usage):
        grey = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
        if grey is None:
            raise UserError(f"{file}: not a readable image")
        images.append(_resize(grey, size))
        labels.append(label)
    return _stack(images, labels, size, usage if _has_splits(root) and usage != "all" else None)
