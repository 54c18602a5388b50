"""Face detection on its own thread, so that a slow detection never holds up the frame loop.

The loop offers the worker a frame when a detection is due and the worker is free (a busy
worker is not queued for: the next due frame is newer anyway) and picks up finished results
without waiting. A result carries the frame it was found on: the tracker moves its boxes on
to the newest frame by each face's own motion, and the classifier crops from that frame.
After a hard cut, results of frames before it are dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from pi_emotion.results.frame import Detection
from pi_emotion.sources.base import Frame

log = logging.getLogger(__name__)


@dataclass
class Found:
    frame: Frame  # the frame the faces were found on
    detections: list[Detection]
    unseen_below: float  # the pass could not see faces smaller than this (pixels); 0: it saw every size


class DetectionWorker:
    def __init__(self, detect: Callable[[Frame, bool], tuple[list[Detection], float]]) -> None:
        self._detect = detect
        self._cond = threading.Condition()
        self._job: tuple[Frame, bool, int] | None = None
        self._done: Found | None = None
        self._busy = False
        self._generation = 0  # raised at a cut: results of older frames are stale
        self._stop = False
        self.failures = 0
        self._thread = threading.Thread(target=self._work, name="detector", daemon=True)
        self._thread.start()

    @property
    def idle(self) -> bool:
        with self._cond:
            return not self._busy

    def submit(self, frame: Frame, fine: bool) -> bool:
        """Start detecting on ``frame`` unless a detection is under way; whether it was taken."""
        with self._cond:
            if self._busy or self._stop:
                return False
            self._busy = True
            self._job = (frame, fine, self._generation)
            self._cond.notify()
            return True

    def take(self) -> Found | None:
        """The latest finished result, once; None when there is none."""
        with self._cond:
            done, self._done = self._done, None
            return done

    def forget(self) -> None:
        """A new scene: whatever was found on earlier frames no longer applies."""
        with self._cond:
            self._generation += 1
            self._done = None

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join()

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._job is not None or self._stop)
                if self._stop:
                    return
                frame, fine, generation = self._job
                self._job = None
            try:
                detections, unseen_below = self._detect(frame, fine)
                found = Found(frame, detections, unseen_below)
            except Exception as exc:  # a failed detection costs one detection, never the thread
                self.failures += 1
                if self.failures == 1 or self.failures % 1000 == 0:
                    log.error("face detection failed (%d times so far): %s", self.failures, exc)
                found = None
            with self._cond:
                if found is not None and generation == self._generation:
                    self._done = found
                self._busy = False
