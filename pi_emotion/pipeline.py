"""The frame loop: source -> detector -> classifier -> annotator -> outputs, timed per stage."""

from __future__ import annotations

import threading

import numpy as np

from pi_emotion.annotate import annotate
from pi_emotion.classify import EmotionClassifier
from pi_emotion.detect import FaceDetector
from pi_emotion.outputs import Output
from pi_emotion.results import Face, FrameResult
from pi_emotion.sources import Frame, FrameSource
from pi_emotion.stats import RunStats


class Pipeline:
    def __init__(self, source: FrameSource, detector: FaceDetector, classifier: EmotionClassifier,
                 outputs: list[Output], overlay: bool = False, max_frames: int = 0) -> None:
        self.source = source
        self.detector = detector
        self.classifier = classifier
        self.outputs = outputs
        self.overlay = overlay
        self.max_frames = max_frames
        self.stats = RunStats()
        self._draw = any(o.needs_image for o in outputs)

    def analyse(self, frame: Frame) -> FrameResult:
        """Faces and their emotions in one frame."""
        timer = self.stats.stages
        with timer.stage("detect"):
            boxes = self.detector.detect(frame.grey, self.source.size)
        with timer.stage("classify"):
            # Crops come from the full-resolution picture; the grey image may be a small lores copy.
            crop_from = frame.grey if frame.grey.shape[:2] == frame.image.shape[:2] else frame.image
            probs = self.classifier.classify(crop_from, boxes)
        labels = self.classifier.labels
        faces = [_face(box, p, labels) for box, p in zip(boxes, probs)]
        return FrameResult(frame.index, frame.t, faces)

    def step(self, frame: Frame) -> FrameResult:
        result = self.analyse(frame)
        image = None
        if self._draw:
            with self.stats.stages.stage("annotate"):
                overlay = f"{self.stats.fps:.1f} fps  {len(result.faces)} faces" if self.overlay else None
                image = annotate(frame.image, result, overlay)
        with self.stats.stages.stage("output"):
            for output in self.outputs:
                output.write(image, result)
        self.stats.count_faces([f.emotion for f in result.faces])
        return result

    def run(self, stop: threading.Event | None = None) -> RunStats:
        """Process frames until the source ends, ``max_frames`` is reached or ``stop`` is set."""
        stop = stop or threading.Event()
        timer = self.stats.stages
        while not stop.is_set() and not (self.max_frames and self.stats.frames >= self.max_frames):
            with timer.stage("capture"):
                frame = self.source.read()
            if frame is None:
                break
            self.step(frame)
        self.stats.ended = self.stats.started + self.stats.elapsed
        return self.stats


def _face(box, probs: np.ndarray, labels: tuple[str, ...]) -> Face:
    best = int(np.argmax(probs))
    return Face(tuple(int(v) for v in box), labels[best], float(probs[best]),
                {label: float(p) for label, p in zip(labels, probs)})
