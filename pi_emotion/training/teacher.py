"""Soft targets for distillation: teachers' probabilities for every Training face, computed once.

Each teacher sees each face and its mirror image (the student sees both) and the
probabilities are averaged over the two views and over the teachers. Training then
costs no more than with hard labels. The file records which data it was made from, so
it cannot be paired with other faces by mistake.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from pi_emotion import paths
from pi_emotion.datasets import fer2013
from pi_emotion.errors import UserError
from pi_emotion.perception.modelmeta import FER2013_LABELS


def fingerprint(data: fer2013.Dataset) -> str:
    """Identifies a set of faces and labels, order included."""
    h = hashlib.sha256(data.images.tobytes())
    h.update(data.labels.tobytes())
    return h.hexdigest()[:16]


def make(data: Path, models: list[Path], out: Path) -> dict:
    from pi_emotion.training.evaluate import predictor

    train = fer2013.load(data, "Training")
    if train.split != "Training":
        raise UserError(f"{data} has no Training split (a FER2013 CSV with a Usage column, or a train/ folder)")
    probs = np.zeros((len(train), len(FER2013_LABELS)), np.float64)
    for path in models:
        predict, meta = predictor(path)
        if tuple(meta.labels) != FER2013_LABELS:
            raise UserError(f"teacher {path}: labels {list(meta.labels)} are not FER2013's seven")
        sized = train if meta.input_size == train.images.shape[2:0:-1] else fer2013.load(data, "Training",
                                                                                           size=meta.input_size)
        x = sized.images[..., None]
        if meta.channels == 3:
            x = np.repeat(x, 3, axis=3)
        for view in (x, x[:, :, ::-1]):
            probs += np.concatenate([predict(view[i:i + 256]) for i in range(0, len(view), 256)])
    probs /= probs.sum(axis=1, keepdims=True)
    np.savez(out, probs=probs.astype(np.float32), fingerprint=fingerprint(train),
             models=np.array([str(m) for m in models]))
    return {"faces": len(train), "accuracy": float(np.mean(probs.argmax(1) == train.labels)), "output": str(out)}


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
    a = p.parse_args(argv)
    if any(m.suffix != ".tflite" for m in a.model):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    report = make(a.data, a.model, a.output)
    print(f"wrote {report['output']}: {report['faces']} faces, {len(a.model)} teacher(s), "
          f"teacher accuracy on them {100 * report['accuracy']:.1f}%")
    return 0
