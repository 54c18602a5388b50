"""Where annotated frames and results go. Each output has ``write(image, result)`` and ``close()``.

``needs_image`` says whether it consumes the annotated picture, so frames are drawn
only when someone looks.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from pi_emotion.results.frame import FrameResult


class Output(Protocol):
    needs_image: bool

    def write(self, image: np.ndarray | None, result: FrameResult) -> None: ...

    def close(self) -> None: ...
