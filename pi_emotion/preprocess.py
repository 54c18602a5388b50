"""Per-crop photometric normalisation, applied identically in training and in the appliance.

A model's metadata names the normalisation it was trained with (``preprocess``); the
classifier applies the same function to every crop before the network sees it. Dim,
flat faces from a camera then reach the network with the contrast of the training data.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pi_emotion.errors import UserError

LOW, HIGH = 1.0, 99.0  # percentiles mapped to 0 and 255 by "stretch"


def identity(pixels: np.ndarray) -> np.ndarray:
    return pixels


def stretch(pixels: np.ndarray) -> np.ndarray:
    """Each crop's 1st..99th percentile of grey levels stretched linearly to 0..255 (uint8 in, uint8 out).

    ``pixels`` is (N, H, W[, C]); a crop of one grey level is left as it is.
    """
    n = len(pixels)
    if n == 0:
        return pixels
    flat = pixels.reshape(n, -1).astype(np.float32)
    lo, hi = np.percentile(flat, [LOW, HIGH], axis=1, keepdims=True)
    span = np.maximum(hi - lo, 1.0)
    out = np.clip(np.rint((flat - lo) * (255.0 / span)), 0, 255)
    out = np.where(hi - lo < 1.0, flat, out)
    return out.astype(np.uint8).reshape(pixels.shape)


NORMALISERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"none": identity, "stretch": stretch}


def normaliser(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The function a model's metadata names; unknown names are a user error, not a silent skip."""
    try:
        return NORMALISERS[name]
    except KeyError:
        raise UserError(f"unknown preprocessing {name!r} (this version knows {', '.join(NORMALISERS)}); "
                        "upgrade pi-emotion or use a model made for it") from None
