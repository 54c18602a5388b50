"""Soft targets for distillation: teachers' probabilities for every Training face, computed once.

Each teacher sees each face and its mirror image (the student sees both), and with
``--shifts`` each of them moved a little too; the probabilities are averaged over the
views and over the teachers. Training then costs no more than with hard labels. The
file records which data it was made from, so it cannot be paired with other faces by
mistake.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pi_emotion import paths
from pi_emotion.datasets import camera_conditions, fer2013
from pi_emotion.errors import UserError
from pi_emotion.perception.modelmeta import FER2013_LABELS, ModelMeta


def fingerprint(data: fer2013.Dataset) -> str:
    """Identifies a set of faces and labels, order included."""
    h = hashlib.sha256(data.images.tobytes())
    h.update(data.labels.tobytes())
    return h.hexdigest()[:16]


Teacher = tuple[Callable[[np.ndarray], np.ndarray], ModelMeta]  # predict uint8 faces -> probabilities, metadata
SHIFT = 2 / 48  # of the side: well inside the shift jitter the teachers were trained with (--shift 0.1)


def views(x: np.ndarray, shifts: bool = False) -> list[np.ndarray]:
    """Faces (N, H, W, C) and their mirrors; with ``shifts``, each also moved a little up, down, left and
    right (the border reflected): ten views, which a teacher answers better than two."""
    moved = [x]
    if shifts:
        h, w = x.shape[1:3]
        d = max(1, round(SHIFT * w))
        pad = np.pad(x, ((0, 0), (d, d), (d, d), (0, 0)), mode="reflect")
        moved += [pad[:, d + dy:d + dy + h, d + dx:d + dx + w] for dx, dy in ((d, 0), (-d, 0), (0, d), (0, -d))]
    return [v for m in moved for v in (m, m[:, :, ::-1])]


def _averaged(teachers: list[Teacher], data: Path, usage: str, faces: fer2013.Dataset,
              degrade: bool = False, shifts: bool = False) -> np.ndarray:
    """The teachers' probabilities for ``faces``, averaged over each face's views and over the teachers."""
    probs = np.zeros((len(faces), len(FER2013_LABELS)), np.float64)
    for predict, meta in teachers:
        sized = faces if meta.input_size == faces.images.shape[2:0:-1] else fer2013.load(data, usage,
                                                                                         size=meta.input_size)
        x = (camera_conditions.degrade(sized.images) if degrade else sized.images)[..., None]
        if meta.channels == 3:
            x = np.repeat(x, 3, axis=3)
        for view in views(x, shifts):
            probs += np.concatenate([predict(view[i:i + 256]) for i in range(0, len(view), 256)])
    return probs / probs.sum(axis=1, keepdims=True)


def make(data: Path, models: list[Path], out: Path, shifts: bool = False) -> dict:
    """Write the soft targets; report the teachers' accuracy on them, and as a whole on PublicTest
    and its camera-condition copy (the ceiling a student learns from), when the data has it."""
    train = fer2013.load(data, "Training")
    if train.split != "Training":
        raise UserError(f"{data} has no Training split (a FER2013 CSV with a Usage column, or a train/ folder)")
    from pi_emotion.training.evaluate import predictor

    teachers = [predictor(path) for path in models]
    for path, (_, meta) in zip(models, teachers):
        if tuple(meta.labels) != FER2013_LABELS:
            raise UserError(f"teacher {path}: labels {list(meta.labels)} are not FER2013's seven")
    probs = _averaged(teachers, data, "Training", train, shifts=shifts)
    np.savez(out, probs=probs.astype(np.float32), fingerprint=fingerprint(train),
             models=np.array([str(m) for m in models]), shifts=shifts)
    report = {"faces": len(train), "accuracy": float(np.mean(probs.argmax(1) == train.labels)), "output": str(out)}
    try:
        public = fer2013.load(data, "PublicTest")
    except UserError:  # data without validation faces: the soft targets are all there is to report
        return report
    for key, degrade in (("validation", False), ("validation_camera", True)):
        report[key] = float(np.mean(_averaged(teachers, data, "PublicTest", public, degrade, shifts).argmax(1)
                                    == public.labels))
    return report


def load(path: Path, train: fer2013.Dataset) -> np.ndarray:
    """The soft targets of ``train`` (the whole Training split, in order), FER2013's seven classes."""
    try:
        with np.load(path) as npz:
            probs, mark = npz["probs"], str(npz["fingerprint"])
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"teacher file {path} is unreadable ({exc}); make it with 'pi-emotion soft-targets'") from None
    if mark != fingerprint(train) or probs.shape != (len(train), len(FER2013_LABELS)):
        raise UserError(f"teacher file {path} was made from other training data; make it again from this --data")
    return probs


def main(argv: list[str], parser_class) -> int:
    p = parser_class(prog="pi-emotion soft-targets",
                     description="Teachers' probabilities for every Training face, for 'train --teacher'.")
    p.add_argument("--data", type=Path, required=True, help="FER2013 CSV or train/ test/ folders")
    p.add_argument("--model", type=paths.model_path, action="append", required=True,
                   help="a teacher (.keras, .h5 or .tflite); repeat to average several")
    p.add_argument("-o", "--output", type=Path, required=True, help="the .npz file to write")
    p.add_argument("--shifts", action="store_true",
                   help="also average over each face moved 2 pixels (of 48) up, down, left and right: ten views, "
                   "five times the work")
    a = p.parse_args(argv)
    if any(m.suffix != ".tflite" for m in a.model):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    report = make(a.data, a.model, a.output, a.shifts)
    print(f"wrote {report['output']}: {report['faces']} faces, {len(a.model)} teacher(s), "
          f"teacher accuracy on them {100 * report['accuracy']:.1f}%")
    if "validation" in report:
        seen = "in ten views (moved and mirrored)" if a.shifts else "with its mirror"
        print(f"the teachers together, each face {seen}: PublicTest {100 * report['validation']:.2f}%, "
              f"its camera-condition copy {100 * report['validation_camera']:.2f}%")
    return 0
