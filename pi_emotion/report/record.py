"""What the report draws from: one time series per appliance, recording or run, as NumPy arrays."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Series:
    """One appliance's record, or one recording's. Times are seconds: since the epoch when ``absolute``,
    the recording's own when ``media``, else from the series' start."""

    name: str
    files: list[Path]
    absolute: bool = False
    media: bool = False  # times are a recording's own (a file source), from 0
    lines: int = 0
    frame_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    frame_faces: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    face_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    face_track: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # unique within the series
    face_emotion: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # index into Record.labels
    summaries: list[dict] = field(default_factory=list)  # summary lines, their start/end on this series' clock


@dataclass
class Record:
    series: list[Series]
    labels: list[str]  # the model's labels in its order, then any others met (such as "uncertain")

    @property
    def absolute(self) -> bool:
        return all(s.absolute for s in self.series)

    @property
    def media(self) -> bool:
        return all(s.media for s in self.series)
