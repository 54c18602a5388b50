"""Keras (.keras, .h5, legacy Keras 2 HDF5) to TFLite, full-integer int8 by default.

Writes the model's metadata beside it so the appliance preprocesses exactly as the
network was trained.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pi_emotion.datasets import fer2013
from pi_emotion.errors import UserError
from pi_emotion.perception.modelmeta import FER2013_LABELS, ModelMeta, meta_path
from pi_emotion.perception.preprocess import normaliser

INPUT_RANGES = {"0,255": (1.0, 0.0), "0,1": (1 / 255, 0.0), "-1,1": (1 / 127.5, -1.0)}


@dataclass
class ConvertOptions:
    model: Path
    output: Path
    calibration: Path | None = None
    float_model: bool = False
    input_range: str | None = None
    labels: tuple[str, ...] | None = None
    samples: int = 300
    seed: int = 0


def load_keras(path: Path):
    """Load Keras 3 files and legacy Keras 2 HDF5 alike (compile=False skips old optimizer configs)."""
    import keras

    if not path.is_file():
        raise UserError(f"model {path} not found")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a bad file; all mean the same to a user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"model {path} could not be loaded as a Keras model ({first})") from None


def describe(model, path: Path, opts: ConvertOptions) -> ModelMeta:
    """Metadata from the file beside the model, else from the network itself; the options override either."""
    shape = model.input_shape
    if isinstance(shape, list) or len(shape) != 4 or shape[3] not in (1, 3) or shape[1] is None:
        raise UserError(f"model {path}: input shape {shape} is not one image (batch, height, width, 1 or 3)")
    classes = model.output_shape[-1]
    if len(model.output_shape) != 2:
        raise UserError(f"model {path}: output shape {model.output_shape} is not one score per class")
    side_meta = meta_path(path)
    known = ModelMeta.load(side_meta) if side_meta.exists() else None
    if opts.input_range is not None:
        scale, offset = INPUT_RANGES[opts.input_range]
    elif known is not None:
        scale, offset = known.scale, known.offset
    elif model.layers and type(model.layers[1 if len(model.layers) > 1 else 0]).__name__ == "Rescaling":
        scale, offset = 1.0, 0.0
    else:
        raise UserError(f"model {path}: say which pixel range it was trained on, e.g. --input-range=-1,1 "
                        f"({' or '.join(INPUT_RANGES)})")
    labels = opts.labels or (known.labels if known is not None else None) or (
        FER2013_LABELS if classes == len(FER2013_LABELS) else None)
    if labels is None or len(labels) != classes:
        raise UserError(f"model {path} has {classes} outputs: give that many names with --labels")
    return ModelMeta(labels=tuple(labels), input_size=(int(shape[2]), int(shape[1])), channels=int(shape[3]),
                     scale=scale, offset=offset, preprocess=known.preprocess if known is not None else "none",
                     extra=known.extra if known is not None else {})


def calibration_pixels(data: Path, meta: ModelMeta, samples: int, seed: int) -> np.ndarray:
    """A seeded random sample of training faces as uint8 (N, H, W, C)."""
    try:
        ds = fer2013.load(data, "Training", size=meta.input_size)
    except UserError:
        ds = fer2013.load(data, "all", size=meta.input_size)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(ds), size=min(samples, len(ds)), replace=False)
    x = ds.images[pick][..., None]
    return np.repeat(x, 3, axis=3) if meta.channels == 3 else x


def convert(opts: ConvertOptions) -> dict:
    """Convert, write model + metadata, and return a report of what was done."""
    import tensorflow as tf

    from pi_emotion.perception.classify import EmotionClassifier

    model = load_keras(opts.model)
    meta = describe(model, opts.model, opts)
    if not opts.float_model and opts.calibration is None:
        raise UserError("int8 conversion needs representative faces: give --calibration DATA (or use --float)")
    sample = calibration_pixels(opts.calibration, meta, opts.samples, opts.seed) if opts.calibration else None

    normalise = normaliser(meta.preprocess)

    def normalised(x: np.ndarray) -> np.ndarray:
        """What the network sees for uint8 crops, as the appliance's classifier prepares them."""
        return normalise(x).astype(np.float32) * meta.scale + meta.offset

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if not opts.float_model:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([normalised(x[None])] for x in sample)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "statistics for quantized inputs": we give int8 I/O
            flat = converter.convert()
    except Exception as exc:
        raise UserError(f"model {opts.model} could not be converted to TFLite ({str(exc).splitlines()[0]})") from None
    opts.output.parent.mkdir(parents=True, exist_ok=True)
    opts.output.write_bytes(flat)
    meta.save(meta_path(opts.output))

    report = {"model": str(opts.model), "output": str(opts.output), "labels": list(meta.labels),
              "input_size": list(meta.input_size), "channels": meta.channels, "preprocess": meta.preprocess,
              "keras_bytes": opts.model.stat().st_size, "tflite_bytes": len(flat)}
    classifier = EmotionClassifier(opts.output)
    report["input_type"] = str(classifier.input_dtype)
    if sample is not None:
        keras_probs = model.predict(normalised(sample), verbose=0, batch_size=64)
        lite_probs = classifier.predict(sample)
        report["agreement"] = float(np.mean(keras_probs.argmax(1) == lite_probs.argmax(1)))
        report["samples"] = len(sample)
    return report


def print_report(report: dict) -> None:
    kind = "int8" if report["input_type"] == "int8" else "float32"
    print(f"wrote {report['output']} ({kind} in/out) and {Path(report['output']).with_suffix('.json').name}")
    w, h = report["input_size"]
    print(f"input {w}x{h}x{report['channels']}, {len(report['labels'])} classes: {', '.join(report['labels'])}"
          + (f", per-crop preprocessing '{report['preprocess']}'" if report["preprocess"] != "none" else ""))
    print(f"size {report['keras_bytes'] / 1024:.0f} KiB (Keras) -> {report['tflite_bytes'] / 1024:.0f} KiB (TFLite)")
    if "agreement" in report:
        print(f"Keras vs TFLite top-1 agreement on {report['samples']} calibration faces: "
              f"{100 * report['agreement']:.1f}%")
