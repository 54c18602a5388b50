"""Why a face got its label: its crop, a guided back-propagation saliency map, the probabilities.

Faces are found and cropped by the appliance's own detector and classifier (the TFLite
model converted from the Keras one, found beside it), so the explanation is about the
crop the appliance classifies. Guided back-propagation (Springenberg et al., 2015) passes
back through each ReLU only the positive gradient where the unit was active, which shows
the pixels that raise the class's score; the softmax is left out so that the map is of
the class's own score.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import keras
import numpy as np
import tensorflow as tf

from pi_emotion.errors import UserError
from pi_emotion.perception.modelmeta import ModelMeta
from pi_emotion.perception.preprocess import normaliser


@dataclass
class Explanation:
    box: tuple[int, int, int, int]
    crop: np.ndarray  # uint8 (H, W), what the appliance classifies
    saliency: np.ndarray  # float (H, W) in 0..1
    label: str  # the class explained
    appliance: np.ndarray  # probabilities from the TFLite model, as the appliance runs it
    network: np.ndarray  # probabilities from the float Keras network


@tf.custom_gradient
def guided_relu(x):
    def grad(dy):
        return dy * tf.cast(dy > 0, dy.dtype) * tf.cast(x > 0, dy.dtype)

    return tf.nn.relu(x), grad


def guided(model: keras.Model) -> keras.Model:
    """A copy of ``model`` with guided ReLUs and no final softmax, carrying the same weights."""
    last = model.layers[-1].name

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.ReLU) or (isinstance(layer, keras.layers.Activation)
                                                     and config["activation"] == "relu"):
            return keras.layers.Activation(guided_relu, name=layer.name)
        if layer.name == last and config.get("activation") == "softmax":
            config["activation"] = "linear"
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def saliency(model: keras.Model, x: np.ndarray, index: int) -> np.ndarray:
    """|d score[index] / d input| for one network input ``x`` (H, W, C), scaled to 0..1."""
    inputs = tf.convert_to_tensor(x[None], tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        score = model(inputs, training=False)[0, index]
    grad = np.abs(tape.gradient(score, inputs).numpy()[0]).max(axis=-1)
    return grad / max(float(grad.max()), 1e-12)


def explain(picture: Path, model_path: Path, label: str | None = None) -> list[Explanation]:
    from pi_emotion.config import Settings
    from pi_emotion.runtime.app import build_classifier, build_detector
    from pi_emotion.training.convert import load_keras

    tflite = model_path.with_suffix(".tflite")
    if not tflite.is_file():
        raise UserError(f"{tflite} not found: explain crops and classifies faces as the appliance does, with the "
                        f"converted model beside {model_path.name} (pi-emotion convert {model_path})")
    image = cv2.imread(str(picture))
    if image is None:
        raise UserError(f"{picture}: not a readable picture")
    settings = Settings(model=str(tflite))
    detector, classifier = build_detector(settings), build_classifier(settings)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    faces = detector.detect_picture(image, grey)
    if not faces:
        raise UserError(f"{picture}: no face found")
    if label is not None and label not in classifier.labels:
        raise UserError(f"--label {label!r}: the model's classes are {', '.join(classifier.labels)}")
    crops = classifier.crops(grey, faces, settings.margin)
    appliance = classifier.predict(crops)
    meta: ModelMeta = classifier.meta
    x = normaliser(meta.preprocess)(crops).astype(np.float32) * meta.scale + meta.offset
    model = load_keras(model_path)
    network = model(x, training=False).numpy()
    explainer = guided(model)
    out = []
    for i, face in enumerate(faces):
        index = classifier.labels.index(label) if label else int(appliance[i].argmax())
        out.append(Explanation(face.box, crops[i, ..., 0] if crops.shape[-1] == 1
                               else cv2.cvtColor(crops[i], cv2.COLOR_RGB2GRAY), saliency(explainer, x[i], index),
                               classifier.labels[index], appliance[i], network[i]))
    return out


def plot(explanations: list[Explanation], labels: tuple[str, ...], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(explanations)
    fig, axes = plt.subplots(rows, 4, figsize=(11, 2.8 * rows), dpi=110, squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1, 1, 1.6]})
    for row, e in zip(axes, explanations):
        row[0].imshow(e.crop, cmap="gray", vmin=0, vmax=255)
        row[0].set_title(f"face at {e.box[0]},{e.box[1]} ({e.box[2]} px)", fontsize=8)
        row[1].imshow(e.saliency, cmap="inferno", vmin=0, vmax=1)
        row[1].set_title(f"guided backprop: {e.label}", fontsize=8)
        row[2].imshow(e.crop, cmap="gray", vmin=0, vmax=255)
        row[2].imshow(e.saliency, cmap="inferno", alpha=0.55, vmin=0, vmax=1)
        row[2].set_title("overlay", fontsize=8)
        for ax in row[:3]:
            ax.axis("off")
        y = np.arange(len(labels))
        row[3].barh(y - 0.2, e.appliance, height=0.4, label="appliance (TFLite)")
        row[3].barh(y + 0.2, e.network, height=0.4, label="Keras (float)")
        row[3].set_yticks(y, labels, fontsize=8)
        row[3].invert_yaxis()
        row[3].set_xlim(0, 1)
        row[3].tick_params(axis="x", labelsize=7)
        row[3].legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(picture: Path, model: Path, output: Path, label: str | None) -> int:
    explanations = explain(picture, model, label)
    labels = ModelMeta.load(model.with_suffix(".json")).labels
    plot(explanations, labels, f"{picture.name}: {model.name}", output)
    for e in explanations:
        top = int(e.appliance.argmax())
        print(f"face {e.box}: {labels[top]} {e.appliance[top]:.0%} (Keras {e.network[top]:.0%}); "
              f"saliency of '{e.label}'")
    print(f"wrote {output}")
    return 0
