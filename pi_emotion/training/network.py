"""The project's emotion network: a small residual, depthwise-separable CNN for 48x48 grey faces.

Chosen for accuracy per millisecond on a Raspberry Pi CPU: separable convolutions keep
the multiply count low, residual shortcuts let it train quickly, global pooling
avoids a large dense head. The first layer rescales 0..255 pixels, so the int8
model's input quantisation is exact for camera pixels.
"""

from __future__ import annotations

import keras
from keras import layers


def _sep_block(x, filters: int, name: str):
    """Two separable convs and a strided max-pool, with a 1x1 strided shortcut (Xception style)."""
    shortcut = layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False, name=f"{name}_short")(x)
    shortcut = layers.BatchNormalization(name=f"{name}_short_bn")(shortcut)
    for i in (1, 2):
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_sep{i}")(x)
        x = layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        if i == 1:
            x = layers.ReLU(name=f"{name}_relu{i}")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool")(x)
    x = layers.Add(name=f"{name}_add")([x, shortcut])
    return layers.ReLU(name=f"{name}_out")(x)


def build(stem: int, widths: tuple[int, ...], num_classes: int = 7, size: int = 48,
          dropout: float = 0.3) -> keras.Model:
    """The network at one of the sizes in ``training.recipe.ARCHS`` (stem channels, block widths)."""
    inputs = keras.Input((size, size, 1), name="face")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="pixels")(inputs)
    x = layers.Conv2D(stem, 3, padding="same", use_bias=False, name="stem1")(x)
    x = layers.BatchNormalization(name="stem1_bn")(x)
    x = layers.ReLU(name="stem1_relu")(x)
    x = layers.Conv2D(stem * 2, 3, strides=2, padding="same", use_bias=False, name="stem2")(x)
    x = layers.BatchNormalization(name="stem2_bn")(x)
    x = layers.ReLU(name="stem2_relu")(x)
    for i, width in enumerate(widths):
        x = _sep_block(x, width, f"block{i + 1}")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name="pi_emotion_sepnet")
