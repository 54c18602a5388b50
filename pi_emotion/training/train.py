"""Train the emotion network on FER2013, resumable exactly after any epoch.

Model selection uses PublicTest only (the validation split); the network never trains
on it. Each epoch: its augmented faces are made (in a background thread while the
previous epoch trains), one pass of Keras ``fit``, the weight average updated after
every step, validation of the averaged weights on PublicTest and on its
camera-condition copy, then the rolling checkpoint. Only Keras APIs touch the network,
so the same code trains on any Keras backend.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from pi_emotion.datasets import camera_conditions, fer2013
from pi_emotion.errors import UserError
from pi_emotion.perception.modelmeta import FER2013_LABELS, ModelMeta
from pi_emotion.perception.preprocess import normaliser
from pi_emotion.training import augment, narrow, teacher
from pi_emotion.training.network import build
from pi_emotion.training.recipe import ARCHS, BATCH, TrainOptions, should_pause
from pi_emotion.training.run_folder import BEST, Checkpoint, RunFolder, State

VALIDATION_SEED = 0  # the camera-condition copy of PublicTest is evaluate --degrade's default copy


@dataclass
class TrainingData:
    faces: np.ndarray  # uint8 (N, 48, 48)
    targets: np.ndarray  # float32 (N, classes): one-hot, or mixed with the teacher's probabilities
    weights: np.ndarray  # float32 (N,)
    val_clean: np.ndarray  # float32 (M, 48, 48, 1), normalised as the network sees it
    val_camera: np.ndarray  # the same faces in camera conditions
    val_labels: np.ndarray
    fingerprint: str  # of the whole Training split


def class_weights(labels: np.ndarray, k: int) -> np.ndarray:
    """Inverse-square-root frequency, mean 1: helps rare classes without giving up overall accuracy."""
    counts = np.bincount(labels, minlength=k).astype(float)
    w = (counts.sum() / np.maximum(counts, 1) / k) ** 0.5
    return (w / w.mean()).astype(np.float32)


def load_data(o: TrainOptions) -> TrainingData:
    full = fer2013.load(o.data, "Training")
    if full.split != "Training":
        raise UserError(f"{o.data}: training needs its Training and PublicTest splits (a FER2013 CSV with a Usage "
                        "column, or train/ and test/ folders)")
    val = fer2013.load(o.data, "PublicTest")
    soft = teacher.load(o.teacher, full) if o.teacher else None
    train = full
    if o.limit:
        train = fer2013.Dataset(full.images[: o.limit], full.labels[: o.limit], full.split)
        soft = None if soft is None else soft[: o.limit]
    side = (o.size, o.size)
    train, val = fer2013.resized(train, side), fer2013.resized(val, side)  # soft targets stay aligned by row
    camera = fer2013.Dataset(camera_conditions.degrade(val.images, VALIDATION_SEED), val.labels, val.split)
    if o.classes != FER2013_LABELS:
        columns = [FER2013_LABELS.index(c) for c in o.classes]
        if soft is not None:
            soft = soft[np.isin(train.labels, columns)][:, columns]
            soft = soft / np.maximum(soft.sum(axis=1, keepdims=True), 1e-9)
        train, val, camera = (fer2013.select_classes(d, o.classes) for d in (train, val, camera))
    if len(train) < 2 * BATCH:
        raise UserError(f"{o.data}: {len(train)} training images are too few (need at least {2 * BATCH})")
    k = len(o.classes)
    targets = np.eye(k, dtype=np.float32)[train.labels]
    if soft is not None:
        targets = (1 - o.teacher_weight) * targets + o.teacher_weight * soft.astype(np.float32)
    weights = class_weights(train.labels, k)[train.labels] if o.class_weights else np.ones(len(train), np.float32)
    normalise = normaliser(o.normalise)

    def network_input(images: np.ndarray) -> np.ndarray:
        return normalise(images)[..., None].astype(np.float32)

    return TrainingData(train.images, targets, weights, network_input(val.images), network_input(camera.images),
                        val.labels, teacher.fingerprint(full))


class WeightAverage(keras.callbacks.Callback):
    """Exponential moving average of all weights (batch-norm statistics included), updated every step.

    With ``decay`` 0 it is simply the current weights. The decay ramps up over the first
    steps ((1 + n) / (10 + n)) so that the average is not anchored to the initial weights.
    """

    def __init__(self, decay: float, updates: int, average: list[np.ndarray]) -> None:
        super().__init__()
        self.decay, self.updates, self.average = decay, updates, average

    def on_train_batch_end(self, batch, logs=None) -> None:
        if not self.decay:
            return
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for a, w in zip(self.average, self.model.get_weights()):
            a *= d
            a += (1 - d) * w

    def current(self, model: keras.Model) -> list[np.ndarray]:
        return self.average if self.decay else model.get_weights()


def make_optimizer(o: TrainOptions, steps: int) -> keras.optimizers.Optimizer:
    """Linear warm-up to the peak, then cosine decay to 1% of it at the last epoch."""
    warmup = min(o.warmup, o.epochs)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=steps * max(o.epochs - warmup, 1), warmup_target=o.lr, warmup_steps=steps * warmup,
        alpha=0.01)
    if o.optimizer == "sgd":
        return keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True, weight_decay=o.weight_decay)
    return keras.optimizers.AdamW(schedule, weight_decay=o.weight_decay)


def init_weights(model: keras.Model, path: Path) -> str:
    """Copy the weights of ``path``'s layers that fit this network by name, narrowed to its widths."""
    from pi_emotion.training.convert import load_keras

    weights, narrowed = narrow.narrowed_weights(model, load_keras(path))
    fresh = []
    for layer in model.layers:
        if layer.name in weights:
            layer.set_weights(weights[layer.name])
        elif layer.weights:
            fresh.append(layer.name)
    if not weights:
        raise UserError(f"--init {path}: none of its layers fits this network (--arch?)")
    return (f"starting from the weights of {path} ({len(weights)} layers"
            + (f", {narrowed} narrowed to their strongest channels" if narrowed else "")
            + (f"; new: {', '.join(fresh)})" if fresh else ")"))


def _restore(variables: list, values: list[np.ndarray], what: str, path: Path) -> None:
    if len(variables) != len(values) or any(tuple(v.shape) != a.shape for v, a in zip(variables, values)):
        raise UserError(f"the checkpoint in {path} does not fit this {what}; move it away or use another --out")
    for v, a in zip(variables, values):
        v.assign(a)


def _accuracy(model: keras.Model, x: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(model.predict(x, batch_size=256, verbose=0).argmax(1) == labels))


def train(o: TrainOptions) -> Path:
    """Train (start, or resume with ``o.resume``) in ``o.out``; returns the exported ``model.keras``."""
    folder = RunFolder(o.out)
    try:
        return _train(o, folder)
    finally:
        folder.close()


def _train(o: TrainOptions, folder: RunFolder) -> Path:
    ckpt = None
    if folder.has_checkpoint():
        if not o.resume:
            raise UserError(f"{o.out} already holds a run: add --resume to continue it, or choose another --out")
        length = folder.check_options(o.identity(), TrainOptions(o.data, o.out).identity(), o.reschedule)
        ckpt = folder.load()
        if length is not None:
            if ckpt.state.finished:
                raise UserError(f"{o.out} finished after epoch {ckpt.state.epoch}; to train on, start another run "
                                f"with --init {o.out / 'model.keras'}")
            if length <= ckpt.state.epoch:
                raise UserError(f"{o.out} has trained {ckpt.state.epoch} epochs: --epochs must be more than that")
    elif o.resume:
        folder.log(f"no checkpoint in {o.out}: starting a new run")
    data = load_data(o)
    if ckpt is not None and ckpt.state.data_fingerprint != data.fingerprint:
        raise UserError(f"{o.out} was trained on other data than {o.data}; resume with the same data")
    steps = len(data.faces) // BATCH
    keras.utils.set_random_seed(o.seed)
    model = build(num_classes=len(o.classes), size=o.size, dropout=o.dropout, **ARCHS[o.arch])
    shadow = build(num_classes=len(o.classes), size=o.size, dropout=o.dropout, **ARCHS[o.arch])  # averaged, validated
    optimizer = make_optimizer(o, steps)
    model.compile(optimizer=optimizer, loss=keras.losses.CategoricalCrossentropy(label_smoothing=o.label_smoothing),
                  metrics=["accuracy"])
    optimizer.build(model.trainable_variables)
    if ckpt is not None:
        state = ckpt.state
        _restore(model.variables, ckpt.arrays["model"], "network", o.out)
        _restore(optimizer.variables, ckpt.arrays["optimizer"], "optimizer", o.out)
        average = WeightAverage(o.ema, state.ema_updates, ckpt.arrays.get("ema", []))
        if length is not None:  # only once the checkpoint has loaded into this network
            folder.change_length(length)
            folder.log(f"the schedule now ends after epoch {length} (the learning rate follows its new curve "
                       f"from epoch {state.epoch + 1})")
        folder.log(f"resuming after epoch {state.epoch} of {o.epochs}")
    else:
        state = State(data_fingerprint=data.fingerprint)
        if o.init is not None:
            folder.log(init_weights(model, o.init))
        average = WeightAverage(o.ema, 0, model.get_weights() if o.ema else [])
        folder.write_options(o.identity())
        folder.log(f"{model.name} ({o.arch}): {model.count_params():,} parameters, {len(data.faces)} faces, "
                   f"{steps} steps/epoch, {len(o.classes)} classes")
    normalise = normaliser(o.normalise)

    def epoch_data(epoch: int) -> augment.Epoch:
        return augment.make_epoch(data.faces, data.targets, data.weights, o, epoch, normalise)

    if state.finished:
        folder.log(f"the run finished after epoch {state.epoch}; exporting its best epoch again")
    started, here = time.monotonic(), 0
    with ThreadPoolExecutor(1) as pool:
        upcoming = pool.submit(epoch_data, state.epoch) if not state.finished else None
        while not state.finished:
            t0 = time.monotonic()
            epoch = upcoming.result()
            if state.epoch + 1 < o.epochs:
                upcoming = pool.submit(epoch_data, state.epoch + 1)
            fit = model.fit(epoch.faces, epoch.targets, sample_weight=epoch.weights, batch_size=BATCH, epochs=1,
                            shuffle=False, verbose=0, callbacks=[average])
            shadow.set_weights(average.current(model))
            clean = _accuracy(shadow, data.val_clean, data.val_labels)
            camera = _accuracy(shadow, data.val_camera, data.val_labels)
            score = {"clean": clean, "camera": camera, "mean": (clean + camera) / 2}[o.select]
            state.epoch += 1
            state.ema_updates = average.updates
            best = score > state.best_score
            if best:
                state.best_score, state.best_epoch = score, state.epoch
                shadow.save_weights(o.out / ("new-" + BEST))  # swapped in whole: never half a file
                os.replace(o.out / ("new-" + BEST), o.out / BEST)
            seconds = time.monotonic() - t0
            state.history.append({"epoch": state.epoch, "loss": round(fit.history["loss"][0], 5),
                                  "accuracy": round(fit.history["accuracy"][0], 5), "val_accuracy": round(clean, 5),
                                  "val_camera_accuracy": round(camera, 5),
                                  "lr": float(keras.ops.convert_to_numpy(optimizer.learning_rate)),
                                  "seconds": round(seconds, 1)})
            stalled = o.patience and state.epoch - state.best_epoch >= o.patience
            state.finished = state.epoch >= o.epochs or bool(stalled)
            folder.save(Checkpoint(state, {"model": [keras.ops.convert_to_numpy(v) for v in model.variables],
                                           "optimizer": [keras.ops.convert_to_numpy(v) for v in optimizer.variables],
                                           "ema": average.average}))
            h = state.history[-1]
            folder.log(f"epoch {state.epoch}/{o.epochs}: loss {h['loss']:.4f} acc {h['accuracy']:.4f} "
                       f"val_acc {clean:.4f} val_camera_acc {camera:.4f} lr {h['lr']:.2e} "
                       f"time {seconds:.0f}s{'  *' if best else ''}")
            if stalled:
                folder.log(f"no better checkpoint for {o.patience} epochs: stopping early")
            here += 1
            if not state.finished and should_pause(o, here, time.monotonic() - started, seconds):
                folder.log(f"paused after epoch {state.epoch} of {o.epochs}: continue with the same command "
                           "and --resume")
                break
        if upcoming is not None:
            upcoming.cancel()
    best = state.history[state.best_epoch - 1]
    folder.log(f"best so far: epoch {state.best_epoch}, PublicTest {best['val_accuracy']:.2%}, "
               f"camera-condition copy {best['val_camera_accuracy']:.2%}")
    return export(o, shadow)


def export(o: TrainOptions, model: keras.Model) -> Path:
    """The selected epoch's weights as ``model.keras`` and legacy ``model.h5``, with their metadata."""
    model.load_weights(o.out / BEST)
    model.save(o.out / "model.keras")
    model.save(o.out / "model.h5")
    size = int(model.input_shape[1])
    ModelMeta(labels=o.classes, input_size=(size, size), channels=1, scale=1.0, offset=0.0,
              preprocess=o.normalise).save(o.out / "model.json")
    print(f"saved {o.out / 'model.keras'} and {o.out / 'model.h5'}", flush=True)
    return o.out / "model.keras"
