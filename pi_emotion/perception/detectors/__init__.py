"""Face detectors behind one interface (``base.Detector``), one file each, picked by name.

A detector turns a frame into face ``Detection``s in full-frame pixels. Each file declares
its own options next to its code and a ``create(options)`` function; adding a detector is
adding a file and naming it in ``DETECTORS``. Implementations (and OpenCV) are imported
only when picked, so the configuration can read the names here cheaply.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pi_emotion.perception.detectors.base import Detector, DetectorOptions

DETECTORS = {"haar": "pi_emotion.perception.detectors.haar", "yunet": "pi_emotion.perception.detectors.yunet"}


def create(name: str, options: DetectorOptions | None = None) -> Detector:
    """The detector called ``name``, loaded once (model files are read here, not per frame).

    Without ``options``, the detector's own defaults.
    """
    return importlib.import_module(DETECTORS[name]).create(options)
