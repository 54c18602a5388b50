"""The frame loop: source -> detector -> classifier -> annotator -> outputs, timed per stage.

Capture runs in its own thread; detection may run every k-th frame with faces followed
by the tracker in between, so the classifier always sees fresh crops.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pi_emotion.outputs import Output
from pi_emotion.outputs.background import BackgroundOutput
from pi_emotion.perception.annotate import annotate
from pi_emotion.perception.classify import EmotionClassifier
from pi_emotion.perception.detectors.base import Detector
from pi_emotion.perception.track import Tracker, label_name
from pi_emotion.results.frame import Face, FrameResult
from pi_emotion.runtime.capture import ThreadedCapture
from pi_emotion.runtime.stats import RunStats
from pi_emotion.sources.base import Frame, FrameSource

log = logging.getLogger(__name__)
FrameHook = Callable[[FrameResult, RunStats], None]
PAUSE_POLL = 0.05  # seconds between looks at the pause control


@dataclass(frozen=True)
class PipelineOptions:
    """How the frame loop treats each frame (the appliance's defaults are in ``config.Settings``)."""

    overlay: bool = False  # fps and face count drawn on the picture
    max_frames: int = 0  # stop after this many frames; 0: no limit
    detect_every: int = 1  # detect on every k-th frame, follow faces in between
    smooth_window: int = 5  # frames over which a face's probabilities are averaged
    track_hold: float = 1.0  # seconds a face keeps its id unseen
    min_confidence: float = 0.0  # below this a face is shown as uncertain
    margin: float = 0.1  # border around a box without landmarks, as a fraction of its side
    blur_faces: bool = False  # pixelate faces in every picture the outputs get
    notice: bool = False  # "emotion analysis active" on every picture


class Pipeline:
    def __init__(self, source: FrameSource | None, detector: Detector, classifier: EmotionClassifier,
                 outputs: list[Output], options: PipelineOptions = PipelineOptions()) -> None:
        self.source = source
        self.detector = detector
        self.classifier = classifier
        self.outputs = outputs
        self.options = options
        self.max_frames = options.max_frames  # may be raised between runs (a benchmark warms up, then measures)
        self.tracker = Tracker(window=options.smooth_window, hold=options.track_hold)
        self.stats = RunStats()
        self.hooks: list[FrameHook] = []
        self.idle_hooks: list[Callable[[str], None]] = []  # told what the loop waits for, when no frame comes
        self._processed = 0

    def analyse(self, frame: Frame, picture: bool = False) -> FrameResult:
        """Faces and their emotions in one frame.

        A still ``picture`` is a scene of its own: searched at sizes that suit it, its faces new.
        """
        timer = self.stats.stages
        with timer.stage("detect"):
            if picture:
                self.tracker = Tracker(self.tracker.window, self.tracker.hold)
                tracks = self.tracker.update(self.detector.detect_picture(frame.image, frame.grey), frame.t)
            elif self._processed % self.options.detect_every == 0:
                tracks = self.tracker.update(self.detector.detect(frame.image, frame.grey), frame.t)
            else:
                tracks = self.tracker.follow(frame.t)
        with timer.stage("classify"):
            # Crops come from the full-resolution picture; the grey image may be a small lores copy.
            crop_from = frame.grey if frame.grey.shape[:2] == frame.image.shape[:2] else frame.image
            try:
                probs = self.classifier.classify(crop_from, [t.detection for t in tracks],
                                                 self.options.margin)
            except Exception as exc:  # one bad inference must not end a months-long run
                self.stats.errors += 1
                if self.stats.errors == 1 or self.stats.errors % 1000 == 0:
                    log.error("classification failed (%d times so far): %s", self.stats.errors, exc)
                tracks, probs = [], []
        labels = self.classifier.labels
        faces = []
        for track, raw in zip(tracks, probs):
            shown, smooth = track.update(raw, self.options.min_confidence)
            best = int(np.argmax(smooth)) if shown is None else shown
            raw_best = int(np.argmax(raw))
            faces.append(Face(track.box, label_name(labels, shown), float(smooth[best]),
                              {label: float(p) for label, p in zip(labels, smooth)}, track.id,
                              labels[raw_best], float(raw[raw_best])))
        self._processed += 1
        return FrameResult(frame.index, frame.t, faces, frame.wall)

    def step(self, frame: Frame) -> FrameResult:
        result = self.analyse(frame)
        image = None
        if any(o.needs_image for o in self.outputs):
            with self.stats.stages.stage("annotate"):
                overlay = f"{self.stats.fps:.1f} fps  {len(result.faces)} faces" if self.options.overlay else None
                image = annotate(frame.image, result, overlay, blur_faces=self.options.blur_faces,
                                 notice=self.options.notice)
        with self.stats.stages.stage("output"):
            for output in list(self.outputs):
                try:
                    output.write(image, result)
                except Exception as exc:  # a full disk or a dead display must not stop the appliance
                    self.retire(output, exc)
        self.stats.count_faces([f.emotion for f in result.faces])
        for hook in self.hooks:
            hook(result, self.stats)
        return result

    def retire(self, output: Output, exc: BaseException) -> None:
        """Take a failed output out of the loop for good, with one error line; its owner still closes it."""
        self.outputs.remove(output)
        name = type(output.output if isinstance(output, BackgroundOutput) else output).__name__
        log.error("%s stopped: %s; the other outputs go on", name, exc)

    def run(self, stop: threading.Event | None = None, pause: threading.Event | None = None) -> RunStats:
        """Process frames until the source ends, ``max_frames`` is reached or ``stop`` is set.

        While ``pause`` is set no frame is taken (a file waits where it is; a camera's frames are dropped).
        """
        stop = stop or threading.Event()
        capture = ThreadedCapture(self.source, newest_only=self.source.realtime, timer=self.stats.stages)
        timer = self.stats.stages
        try:
            while not stop.is_set() and not (self.max_frames and self.stats.frames >= self.max_frames):
                if pause is not None and pause.is_set():
                    stop.wait(PAUSE_POLL)
                    continue
                with timer.stage("capture"):
                    frame = capture.read(timeout=0.5)
                self.stats.dropped, self.stats.corrupt = capture.dropped, self.source.corrupt
                if frame is None:
                    if capture.ended:
                        break
                    if self.source.waiting:
                        for idle in self.idle_hooks:
                            idle("waiting for camera")
                    continue
                self.step(frame)
        finally:
            capture.close()
            self.stats.dropped, self.stats.corrupt = capture.dropped, self.source.corrupt
            self.stats.ended = self.stats.started + self.stats.elapsed
        return self.stats
