"""Train the emotion network on FER2013 with checkpoints every epoch and exact resume.

Model selection uses PublicTest only; the network never trains on it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pi_emotion import datasets
from pi_emotion.errors import UserError
from pi_emotion.modelmeta import FER2013_LABELS, ModelMeta

BATCH = 64  # even, and the last short batch is dropped: TF's oneDNN path crashes on odd batches
LABEL_SMOOTHING = 0.1  # FER2013 labels are noisy: do not push the network to be certain of them
# Sizes of the network (keyword arguments of network.build). "base" has 2.6x the weights of
# "small" and twice its multiplies: it trains 1.6x slower and still runs in well under 1 ms per face.
ARCHS: dict[str, dict] = {
    "small": {"stem": 24, "widths": (96, 192, 256)},
    "base": {"stem": 32, "widths": (128, 256, 512)},
}


@dataclass
class TrainOptions:
    data: Path
    out: Path
    epochs: int = 75
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 1
    arch: str = "base"  # a key of ARCHS
    resume: bool = False
    init: Path | None = None  # start from these weights with a fresh schedule (a second cosine cycle)
    limit: int = 0  # use only the first N training images (smoke tests)


def _class_weights(labels: np.ndarray, k: int) -> dict[int, float]:
    """Inverse-square-root frequency: helps 'disgust' without giving up overall accuracy."""
    counts = np.bincount(labels, minlength=k).astype(float)
    w = (counts.sum() / np.maximum(counts, 1) / k) ** 0.5
    return {i: float(v / w.mean()) for i, v in enumerate(w)}


def _augmenter(seed: int):
    import keras
    from keras import layers

    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomTranslation(0.1, 0.1, fill_mode="reflect", seed=seed),
            layers.RandomRotation(0.05, fill_mode="reflect", seed=seed),
            layers.RandomZoom((-0.1, 0.1), fill_mode="reflect", seed=seed),
            layers.RandomContrast(0.3, seed=seed),
            layers.RandomBrightness(0.2, value_range=(0, 255), seed=seed),
        ],
        name="augment",
    )


def _progress_callback(log_path: Path):
    import keras

    class Progress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            line = (f"epoch {epoch + 1}: loss {logs.get('loss', 0):.4f} acc {logs.get('accuracy', 0):.4f} "
                    f"val_loss {logs.get('val_loss', 0):.4f} val_acc {logs.get('val_accuracy', 0):.4f} "
                    f"time {time.monotonic() - self.start:.0f}s")
            print(line, flush=True)
            with log_path.open("a") as fh:
                fh.write(line + "\n")

    return Progress()


def train(opts: TrainOptions) -> Path:
    """Train (or resume) into ``opts.out``; returns the path of the best model's ``.h5``."""
    import keras
    import tensorflow as tf

    from pi_emotion.training.network import build

    opts.out.mkdir(parents=True, exist_ok=True)
    last, best = opts.out / "last.keras", opts.out / "best.keras"
    state_path = opts.out / "state.json"
    train_set = datasets.load(opts.data, "Training")
    val_set = datasets.load(opts.data, "PublicTest")
    if opts.limit:
        train_set = datasets.Dataset(train_set.images[: opts.limit], train_set.labels[: opts.limit])
    if len(train_set) < 2 * BATCH:
        raise UserError(f"{opts.data}: {len(train_set)} training images are too few (need at least {2 * BATCH})")

    keras.utils.set_random_seed(opts.seed)
    steps = len(train_set) // BATCH
    initial_epoch = 0
    if opts.resume and last.exists() and state_path.exists():
        model = keras.models.load_model(last)
        initial_epoch = json.loads(state_path.read_text())["epoch"]
        print(f"resuming after epoch {initial_epoch}", flush=True)
    else:
        model = build(num_classes=len(FER2013_LABELS), **ARCHS[opts.arch])
        if opts.init is not None:
            model.set_weights(keras.models.load_model(opts.init).get_weights())
            print(f"starting from the weights of {opts.init}", flush=True)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=steps * opts.epochs, warmup_target=opts.lr, warmup_steps=steps * 2, alpha=0.01)
        model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=opts.weight_decay),
                      loss=keras.losses.CategoricalCrossentropy(label_smoothing=LABEL_SMOOTHING),
                      metrics=["accuracy"])
        (opts.out / "options.json").write_text(json.dumps(asdict(opts), default=str, indent=2) + "\n")
        print(f"{model.name}: {model.count_params():,} parameters, {steps} steps/epoch", flush=True)

    augment = _augmenter(opts.seed)
    x_train = train_set.images[..., None].astype("float32")
    k = len(FER2013_LABELS)
    ds = (tf.data.Dataset.from_tensor_slices((x_train, keras.utils.to_categorical(train_set.labels, k)))
          .shuffle(len(train_set), seed=opts.seed, reshuffle_each_iteration=True)
          .batch(BATCH, drop_remainder=True)
          .map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
          .prefetch(2))
    val_n = len(val_set) - len(val_set) % 2
    val = (val_set.images[:val_n, ..., None].astype("float32"), keras.utils.to_categorical(val_set.labels[:val_n], k))

    class SaveState(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.save(last)
            state_path.write_text(json.dumps({"epoch": epoch + 1}) + "\n")

    callbacks = [
        keras.callbacks.ModelCheckpoint(best, monitor="val_accuracy", mode="max", save_best_only=True,
                                        initial_value_threshold=_best_so_far(opts.out / "history.csv")),
        keras.callbacks.CSVLogger(opts.out / "history.csv", append=initial_epoch > 0),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=15),
        _progress_callback(opts.out / "train.log"),
        SaveState(),
    ]
    if initial_epoch < opts.epochs:
        model.fit(ds, validation_data=val, batch_size=BATCH, epochs=opts.epochs, initial_epoch=initial_epoch,
                  class_weight=_class_weights(train_set.labels, k), callbacks=callbacks,
                  verbose=0)
    return export(best if best.exists() else last, opts.out)


def _best_so_far(history: Path) -> float | None:
    if not history.exists():
        return None
    rows = history.read_text().splitlines()
    if len(rows) < 2:
        return None
    col = rows[0].split(",").index("val_accuracy")
    return max(float(r.split(",")[col]) for r in rows[1:])


def export(checkpoint: Path, out: Path) -> Path:
    """Write the chosen checkpoint as ``model.keras`` and legacy ``model.h5``, with its metadata."""
    import keras

    model = keras.models.load_model(checkpoint, compile=False)  # weights only: no optimizer state to ship
    model.save(out / "model.keras")
    model.save(out / "model.h5")
    size = int(model.input_shape[1])
    ModelMeta(input_size=(size, size), channels=1, scale=1.0, offset=0.0).save(out / "model.json")
    print(f"saved {out / 'model.keras'} and {out / 'model.h5'}", flush=True)
    return out / "model.h5"
