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
    """Each crop's 1st..99th percentile of grey levels stretched linearly to 0..255.

    ``pixels`` is uint8 (N, H, W[, C]). The percentiles are order statistics (the grey levels
    at ranks floor(0.01 (n - 1)) and ceil(0.99 (n - 1)) of a crop's n values), read from each
    crop's histogram; a crop of one grey level is left as it is.
    """
    n = len(pixels)
    if n == 0:
        return pixels
    flat = pixels.reshape(n, -1)
    size = flat.shape[1]
    ranks = np.array([np.floor(LOW / 100 * (size - 1)), np.ceil(HIGH / 100 * (size - 1))])
    out = np.empty_like(flat)
    levels = np.arange(256, dtype=np.float32)
    for i in range(n):
        cum = np.cumsum(np.bincount(flat[i], minlength=256))
        lo, hi = np.searchsorted(cum, ranks, side="right")
        if hi <= lo:
            out[i] = flat[i]
            continue
        table = np.clip(np.rint((levels - lo) * (255.0 / (hi - lo))), 0, 255).astype(np.uint8)
        out[i] = table[flat[i]]
    return out.reshape(pixels.shape)


NORMALISERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"none": identity, "stretch": stretch}


def normaliser(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The function a model's metadata names; unknown names are a user error, not a silent skip."""
    try:
        return NORMALISERS[name]
    except KeyError:
        raise UserError(f"unknown preprocessing {name!r} (this version knows {', '.join(NORMALISERS)}); "
                        "upgrade pi-emotion or use a model made for it") from None
