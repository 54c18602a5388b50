"""Accuracy, per-class precision/recall/F1, confusion matrix and latency of a model on labelled faces.

TFLite models run through the appliance's own classifier (so this measures what ships);
Keras models need the training extra.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pi_emotion import config, paths
from pi_emotion.config import Settings
from pi_emotion.datasets import camera_conditions, fer2013
from pi_emotion.errors import UserError
from pi_emotion.perception.detectors import DETECTORS
from pi_emotion.perception.modelmeta import FER2013_LABELS, ModelMeta
from pi_emotion.perception.preprocess import normaliser


def _keras_predictor(path: Path) -> tuple[Callable[[np.ndarray], np.ndarray], ModelMeta]:
    try:
        import keras  # noqa: F401
    except ImportError:
        raise UserError(f"model {path}: a Keras model needs TensorFlow: pip install 'pi-emotion[train]' "
                        "(or evaluate its converted .tflite)") from None
    from pi_emotion.training.convert import ConvertOptions, describe, load_keras

    model = load_keras(path)
    meta = describe(model, path, ConvertOptions(path, path))
    normalise = normaliser(meta.preprocess)

    def predict(pixels: np.ndarray) -> np.ndarray:
        x = normalise(pixels).astype(np.float32) * meta.scale + meta.offset
        return model(x, training=False).numpy()

    return predict, meta


def predictor(path: Path, tta: bool = False) -> tuple[Callable[[np.ndarray], np.ndarray], ModelMeta]:
    """A function from uint8 faces (N, H, W, C) to probabilities, and the model's metadata."""
    if path.suffix == ".tflite":
        from pi_emotion.perception.classify import EmotionClassifier

        clf = EmotionClassifier(path, num_threads=1, tta=tta)
        return clf.predict, clf.meta
    if path.suffix in (".keras", ".h5", ".hdf5"):
        if tta:
            raise UserError("--tta is for .tflite models")
        return _keras_predictor(path)
    raise UserError(f"model {path}: expected a .tflite, .keras or .h5 file")


def metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...]) -> dict:
    k = len(labels)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    per_class = {}
    for i, label in enumerate(labels):
        tp = confusion[i, i]
        precision = tp / confusion[:, i].sum() if confusion[:, i].sum() else 0.0
        recall = tp / confusion[i].sum() if confusion[i].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": float(precision), "recall": float(recall), "f1": float(f1),
                            "support": int(confusion[i].sum())}
    return {"accuracy": float(np.mean(y_true == y_pred)), "n": int(len(y_true)), "labels": list(labels),
            "per_class": per_class, "confusion": confusion.tolist()}


CONFIDENCES = (0.3, 0.35, 0.4, 0.45, 0.5, 0.6)


def by_confidence(y_true: np.ndarray, probs: np.ndarray) -> list[dict]:
    """For each ``min_confidence``: the share of faces that get a label, and how often that label is right."""
    top, right = probs.max(1), probs.argmax(1) == y_true
    rows = []
    for threshold in CONFIDENCES:
        named = top >= threshold
        rows.append({"min_confidence": threshold, "labelled": float(named.mean()),
                     "accuracy_labelled": float(right[named].mean()) if named.any() else 0.0,
                     "accuracy_uncertain": float(right[~named].mean()) if (~named).any() else 0.0})
    return rows


def evaluate(model: Path, data: Path, usage: str, tta: bool = False, degrade_seed: int | None = None,
             latency_runs: int = 200) -> dict:
    """Scores on the data's faces, or on their camera-condition copy when ``degrade_seed`` is given.

    A model of a subset of FER2013's classes is scored on the faces of those classes.
    """
    predict, meta = predictor(model, tta)
    if not set(meta.labels) <= set(FER2013_LABELS):
        raise UserError(f"model {model}: labels {list(meta.labels)} are not FER2013's; cannot score on FER2013")
    ds = fer2013.load(data, usage, size=meta.input_size)
    if degrade_seed is not None:  # before choosing classes, so each face's copy is the same for every model
        ds = fer2013.Dataset(camera_conditions.degrade(ds.images, degrade_seed), ds.labels, ds.split)
    if tuple(meta.labels) != FER2013_LABELS:
        ds = fer2013.select_classes(ds, tuple(meta.labels))
    x = ds.images[..., None]
    if meta.channels == 3:
        x = np.repeat(x, 3, axis=3)
    probs = np.concatenate([predict(x[i:i + 64]) for i in range(0, len(x), 64)])
    report = metrics(ds.labels, probs.argmax(1), meta.labels)
    report["by_confidence"] = by_confidence(ds.labels, probs)
    times = []
    for i in range(min(latency_runs, len(x))):
        start = time.perf_counter()
        predict(x[i:i + 1])
        times.append((time.perf_counter() - start) * 1000)
    report.update({"model": str(model), "data": str(data), "split": ds.split, "degrade_seed": degrade_seed, "tta": tta,
                   "latency_ms": {"mean": float(np.mean(times)), "p95": float(np.percentile(times, 95))},
                   "model_bytes": model.stat().st_size})
    if model.suffix == ".tflite":
        from pi_emotion.perception.model_work import model_work

        work = model_work(model)
        report["work"] = {**work.to_json(), "macs_as_run": work.macs * (2 if tta else 1)}
    return report


def evaluate_detected(model: Path, data: Path, usage: str, settings: Settings, seed: int, tta: bool,
                      limit: int = 0) -> dict:
    """Accuracy of the whole front end: detector, alignment, crop and model, on labelled pictures."""
    from pi_emotion.perception.classify import EmotionClassifier
    from pi_emotion.runtime.app import build_detector
    from pi_emotion.training.evaluate_detect import MISSED, by_turn, labelled_pictures, predict_detected

    classifier = EmotionClassifier(model, 1, tta)
    if tuple(classifier.labels) != FER2013_LABELS:
        raise UserError(f"model {model}: labels {list(classifier.labels)} are not FER2013's; cannot score on FER2013")
    detector = build_detector(settings)
    truth, predicted, turns = predict_detected(classifier, detector, settings.margin,
                                               labelled_pictures(data, usage, seed, limit))
    if len(truth) == 0:
        raise UserError(f"data {data} has no pictures for usage {usage!r}")
    found = predicted != MISSED
    report = metrics(truth[found], predicted[found], classifier.labels)
    report.update({"model": str(model), "data": str(data), "usage": usage, "tta": tta, "detector": detector.name,
                   "pictures": int(len(truth)), "found": int(found.sum()), "missed": int((~found).sum()),
                   "accuracy_found": report["accuracy"], "accuracy": float(np.mean(truth == predicted)),
                   "seed": seed, "model_bytes": model.stat().st_size,
                   "by_turn": by_turn(truth[found], predicted[found], turns[found])})
    return report


def describe_faces(r: dict) -> str:
    """Which faces a report is about: the split (PublicTest is the validation split) and the conditions."""
    parts = []
    if r["split"]:
        parts.append("PublicTest, validation" if r["split"] == "PublicTest" else r["split"])
    parts.append(f"{r['n']} faces")
    if r["degrade_seed"] is not None:
        parts.append(f"camera conditions, seed {r['degrade_seed']}")
    if r["tta"]:
        parts.append("TTA")
    return ", ".join(parts)


def format_report(r: dict) -> str:
    labels = r["labels"]
    if "detector" in r:
        head = [f"{r['model']} on {r['data']} ({r['usage']}, {r['pictures']} pictures, through the "
                f"{r['detector']} detector and the appliance's crop{', TTA' if r['tta'] else ''})",
                f"accuracy {r['accuracy']:.2%} (a missed face counts as wrong)   faces found {r['found']}, "
                f"missed {r['missed']}   accuracy on found faces {r['accuracy_found']:.2%}"]
    else:
        head = [f"{r['model']} on {r['data']} ({describe_faces(r)})",
                f"accuracy {r['accuracy']:.2%}   latency per face {r['latency_ms']['mean']:.2f} ms mean, "
                f"{r['latency_ms']['p95']:.2f} ms p95   size {r['model_bytes'] / 1024:.0f} KiB"]
        if "work" in r:
            w = r["work"]
            head.append(f"work per face {w['macs'] / 1e6:.1f} M multiply-adds, {w['macs_as_run'] / 1e6:.1f} M as run"
                        f"{' (with the mirrored face)' if r['tta'] else ''}; {w['params']:,} weights")
    lines = head + ["", f"{'class':<10}{'precision':>10}{'recall':>8}{'f1':>7}{'n':>6}"]
    for label in labels:
        c = r["per_class"][label]
        lines.append(f"{label:<10}{c['precision']:>10.2f}{c['recall']:>8.2f}{c['f1']:>7.2f}{c['support']:>6}")
    lines += ["", "confusion (rows: true, columns: predicted)", " " * 10 + "".join(f"{name[:7]:>8}" for name in labels)]
    for label, row in zip(labels, r["confusion"]):
        lines.append(f"{label:<10}" + "".join(f"{v:>8}" for v in row))
    if r.get("by_turn"):
        lines += ["", "by how turned the face is (nose off the eyes' midline, in eye distances), thirds of the found "
                      "faces", f"{'turn':>13}{'faces':>7}{'accuracy':>10}"]
        lines += [f"{t['turn_from']:>6.2f}-{t['turn_to']:<6.2f}{t['faces']:>7}{t['accuracy']:>10.1%}"
                  for t in r["by_turn"]]
    if "by_confidence" in r:
        lines += ["", "min_confidence  labelled  right when labelled  right when 'uncertain'"]
        lines += [f"{c['min_confidence']:>14.2f}{c['labelled']:>10.1%}{c['accuracy_labelled']:>21.1%}"
                  f"{c['accuracy_uncertain']:>24.1%}" for c in r["by_confidence"]]
    return "\n".join(lines)


def plot_confusion(r: dict, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError("--plot needs matplotlib: pip install 'pi-emotion[train]'") from None
    cm = np.array(r["confusion"], float)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6, 5), dpi=120)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    labels = r["labels"]
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{Path(r['model']).name}: {r['accuracy']:.1%}\n({describe_faces(r)})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str], parser_class) -> int:
    p = parser_class(prog="pi-emotion evaluate", description="Measure a model on labelled faces.")
    p.add_argument("--model", type=paths.model_path, required=True,
                   help=".tflite (with its .json), .keras or .h5; or the name of a shipped model")
    p.add_argument("--data", type=Path, required=True, help="FER2013 CSV or class folders")
    p.add_argument("--usage", default="PublicTest", choices=fer2013.USAGES)
    p.add_argument("--tta", action="store_true", help="average with the mirrored face")
    p.add_argument("--degrade", action="store_true",
                   help="score the camera-condition copy of the faces (dim, flat, 20-32 px, noise, JPEG)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the camera-condition copy, and of the placements with --detect (default: 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", type=Path, help="write the confusion matrix as a PNG")
    p.add_argument("--detect", action="store_true",
                   help="find each face with the appliance's detector and crop it as the appliance does (pictures of "
                        "any size in class folders; a CSV's faces are first placed into larger pictures)")
    p.add_argument("--detector", choices=tuple(DETECTORS), help="with --detect: the detector (default: the setting)")
    p.add_argument("--limit", type=int, default=0, help="only the first N pictures (0: all)")
    p.add_argument("--config", type=Path, help="with --detect: detector settings from this config file")
    a = p.parse_args(argv)
    if a.detect:
        if a.model.suffix != ".tflite":
            raise UserError("--detect runs the appliance's path: give a .tflite model")
        settings = config.resolve({"detector": a.detector} if a.detector else {}, a.config)
        report = evaluate_detected(a.model, a.data, a.usage, settings, a.seed, a.tta, a.limit)
        if a.plot:
            plot_confusion(report, a.plot)
        print(json.dumps(report) if a.json else format_report(report))
        return 0
    if a.model.suffix != ".tflite":
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    report = evaluate(a.model, a.data, a.usage, a.tta, a.seed if a.degrade else None)
    if a.plot:
        plot_confusion(report, a.plot)
    print(json.dumps(report) if a.json else format_report(report))
    return 0
