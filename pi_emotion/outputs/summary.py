"""Events file in summary mode: one line of aggregates per interval instead of one line per frame.

The lines are ``Aggregate.to_json()`` with the wall-clock time the interval closed
(``ts``, ISO 8601 UTC); intervals with fewer faces than the minimum group carry no
emotions. The last, partial interval is written when the run ends.
"""

from __future__ import annotations

import time

import numpy as np

from pi_emotion.outputs.events import EventsWriter
from pi_emotion.results.aggregate import Aggregate, IntervalAggregator
from pi_emotion.results.frame import FrameResult, iso_utc


class SummaryWriter:
    needs_image = False

    def __init__(self, lines: EventsWriter, aggregator: IntervalAggregator, wall=time.time) -> None:
        self.lines = lines
        self.aggregator = aggregator
        self._wall = wall

    def write(self, image: np.ndarray | None, result: FrameResult) -> None:
        done = self.aggregator.update(result)
        if done is not None:
            self._write(done)

    def _write(self, aggregate: Aggregate) -> None:
        self.lines.write_json({**aggregate.to_json(), "interval_s": self.aggregator.interval,
                               "ts": iso_utc(self._wall())})

    def close(self) -> None:
        try:
            last = self.aggregator.flush()
            if last is not None:
                self._write(last)
        finally:
            self.lines.close()
