"""The frame loop: source -> detector -> tracker -> classifier and evidence -> annotator -> outputs, timed per stage.

Capture runs in its own thread. Detection runs every k-th frame (and at once after a hard
cut, which ends every face); the tracker carries faces in between. A face is classified
only on frames where the detector saw it, at most ``classify_rate`` times a second, and its
label comes from the evidence of its views over time, not from one frame.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pi_emotion.outputs import Output
from pi_emotion.outputs.background import BackgroundOutput
from pi_emotion.perception.annotate import annotate
from pi_emotion.perception.classify import EmotionClassifier
from pi_emotion.perception.cuts import CUT_THRESHOLD, CutDetector
from pi_emotion.perception.detectors.base import Detector
from pi_emotion.perception.evidence import UNCERTAIN_INDEX, EvidenceOptions, view_weight
from pi_emotion.perception.track import CONFIRM_HITS, Track, Tracker
from pi_emotion.results.frame import UNCERTAIN, Detection, Face, FrameResult
from pi_emotion.runtime.capture import ThreadedCapture
from pi_emotion.runtime.detection_worker import DetectionWorker
from pi_emotion.runtime.stats import RunStats
from pi_emotion.sources.base import Frame, FrameSource

log = logging.getLogger(__name__)
FrameHook = Callable[[FrameResult, RunStats], None]
PAUSE_POLL = 0.05  # seconds between looks at the pause control
FINE_MIN_FACE = 8  # pixels: the finer pass looks for faces down to half the usual size, but no smaller than this
RATE_SLACK = 0.01  # seconds: a view due within this is taken now (frame times are not exact multiples)


@dataclass(frozen=True)
class PipelineOptions:
    """How the frame loop treats each frame (the appliance's defaults are in ``config.Settings``)."""

    overlay: bool = False  # fps and face count drawn on the picture
    max_frames: int = 0  # stop after this many frames; 0: no limit
    detect_every: int = 1  # detect on every k-th frame, follow faces in between
    fine_every: float = 0.0  # seconds between finer detection passes for small faces; 0: none
    cut_threshold: float = CUT_THRESHOLD  # thumbnail difference that makes a hard cut; 0: never
    track_hold: float = 1.0  # seconds a face keeps its id unseen
    classify_rate: float = 0.0  # classifications per face per second at most; 0: whenever it is detected
    evidence: EvidenceOptions = EvidenceOptions()  # how views add up to a label
    detect_thread: bool = False  # with a camera or a paced file, detect on a thread of its own
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
        self.tracker = self._tracker()
        self.cuts = CutDetector(options.cut_threshold)
        self.stats = RunStats()
        self.hooks: list[FrameHook] = []
        self.idle_hooks: list[Callable[[str], None]] = []  # told what the loop waits for, when no frame comes
        self.worker: DetectionWorker | None = None  # detection on its own thread, while a live source runs
        self._until_detect = 0  # frames until the next detection
        self._last_fine = -math.inf

    def _tracker(self, confirm_hits: int = CONFIRM_HITS) -> Tracker:
        o = self.options
        return Tracker(len(self.classifier.labels), o.evidence, o.track_hold, confirm_hits, o.fine_every)

    def analyse(self, frame: Frame, picture: bool = False) -> FrameResult:
        """Faces and their emotions in one frame.

        A still ``picture`` is a scene of its own: searched at sizes that suit it, its faces new
        and shown at once.
        """
        timer = self.stats.stages
        seen_on = frame  # the frame this frame's detections were found on
        if picture:
            self.tracker = self._tracker(confirm_hits=1)
            with timer.stage("detect"):
                found = self.detector.detect_picture(frame.image, frame.grey)
            tracks = self.tracker.update(found, frame.t)
        else:
            if self.cuts.is_cut(frame.grey):
                self.tracker.reset()
                if self.worker is not None:
                    self.worker.forget()
                self.stats.cuts += 1
                self._until_detect = 0
            due = self._until_detect == 0
            if self.worker is None and due:
                found, unseen_below = self._timed_find(frame)
                tracks = self.tracker.update(found, frame.t, unseen_below)
            elif self.worker is None:
                tracks = self.tracker.follow(frame.t)
            else:
                done = self.worker.take()
                if due and self.worker.idle:
                    self.worker.submit(frame, self._fine_due(frame))
                elif due:  # still busy with an earlier frame: offer the next one instead
                    self._until_detect = 1
                if done is None:
                    tracks = self.tracker.follow(frame.t)
                else:
                    seen_on = done.frame
                    tracks = self.tracker.update(done.detections, frame.t, done.unseen_below,
                                                 lag=frame.t - done.frame.t)
            self._until_detect = (self._until_detect - 1) % self.options.detect_every
        with timer.stage("classify"):
            self._classify(seen_on, frame.t, tracks, every_view=picture)
        labels = self.classifier.labels
        faces = []
        for track in tracks:
            evidence = track.evidence
            shown = evidence.decide(frame.t)
            probs = evidence.probabilities()
            raw = evidence.raw if evidence.raw is not None else probs
            raw_best = int(np.argmax(raw))
            score = float(probs[shown if shown != UNCERTAIN_INDEX else int(np.argmax(probs))])
            faces.append(Face(track.box, UNCERTAIN if shown == UNCERTAIN_INDEX else labels[shown], score,
                              {label: float(p) for label, p in zip(labels, probs)}, track.id,
                              labels[raw_best], float(raw[raw_best])))
        return FrameResult(frame.index, frame.t, faces, frame.wall)

    def _fine_due(self, frame: Frame) -> bool:
        """Whether this detection is the finer pass: once every ``fine_every`` seconds."""
        if self.options.fine_every and frame.t - self._last_fine >= self.options.fine_every - 1e-6:
            self._last_fine = frame.t
            return True
        return False

    def _timed_find(self, frame: Frame, fine: bool | None = None) -> tuple[list[Detection], float]:
        with self.stats.stages.stage("detect"):
            return self._find(frame, fine)

    def _find(self, frame: Frame, fine: bool | None = None) -> tuple[list[Detection], float]:
        """Faces in ``frame``, and the size below which this pass cannot see them (0: it sees every size).

        The finer pass runs at twice the width and down to half the smallest face, for small, far faces.
        """
        det = self.detector
        width = frame.image.shape[1]
        if self._fine_due(frame) if fine is None else fine:
            self.stats.fine_passes += 1
            return det.detect(frame.image, frame.grey, min(width, 2 * det.detect_width),
                              max(FINE_MIN_FACE, det.min_face // 2)), 0.0
        unseen_below = det.min_face * width / min(width, det.detect_width) if self.options.fine_every else 0.0
        return det.detect(frame.image, frame.grey), unseen_below

    def _classify(self, frame: Frame, now: float, tracks: list[Track], every_view: bool) -> None:
        """Add a view to the evidence of each face the detector saw on ``frame`` and whose turn it is at ``now``."""
        rate = self.options.classify_rate
        due = [tr for tr in tracks if tr.seen is not None
               and (every_view or not rate or now - tr.evidence.last_added >= 1 / rate - RATE_SLACK)]
        if not due:
            return
        # Crops come from the full-resolution picture; the grey image may be a small lores copy.
        crop_from = frame.grey if frame.grey.shape[:2] == frame.image.shape[:2] else frame.image
        seen = [tr.seen for tr in due]
        try:
            crops = self.classifier.crops(crop_from, seen, self.options.margin)
            probs = self.classifier.predict(crops)
        except Exception as exc:  # one bad inference must not end a months-long run
            self.stats.errors += 1
            if self.stats.errors == 1 or self.stats.errors % 1000 == 0:
                log.error("classification failed (%d times so far): %s", self.stats.errors, exc)
            return
        self.stats.classified += len(due)
        for track, det, crop, p in zip(due, seen, crops, probs):
            track.evidence.add(p, view_weight(det, crop), now)

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
        if self.options.detect_thread and self.source.realtime:  # frames come at their own pace: never wait
            self.worker = DetectionWorker(self._timed_find)
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
            if self.worker is not None:
                self.worker.close()
                self.worker = None
            self.stats.dropped, self.stats.corrupt = capture.dropped, self.source.corrupt
            self.stats.ended = self.stats.started + self.stats.elapsed
        return self.stats
