"""Builds the pipeline a set of settings describes, and runs it until the source ends or a signal stops it."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from contextlib import ExitStack
from pathlib import Path

from pi_emotion import paths
from pi_emotion.classify import EmotionClassifier
from pi_emotion.config import Settings
from pi_emotion.detect import DetectorSettings, FaceDetector
from pi_emotion.errors import UserError
from pi_emotion.outputs import Output
from pi_emotion.pipeline import Pipeline
from pi_emotion.sources import FrameSource, SourceSettings, open_source
from pi_emotion.stats import format_summary

log = logging.getLogger("pi_emotion")


def model_path(settings: Settings) -> Path:
    return Path(settings.model) if settings.model else paths.shipped(paths.MODEL)


def build_detector(settings: Settings) -> FaceDetector:
    cascade = Path(settings.cascade) if settings.cascade else paths.shipped(paths.CASCADE)
    return FaceDetector(DetectorSettings(cascade, settings.detect_width, settings.scale_factor,
                                         settings.min_neighbors, settings.min_face, settings.margin))


def build_outputs(settings: Settings, source: FrameSource, stack: ExitStack) -> list[Output]:
    outputs: list[Output] = []
    if settings.events:
        from pi_emotion.outputs.events import EventsWriter

        outputs.append(stack.enter_context(_closing(EventsWriter(Path(settings.events)))))
    if settings.output:
        from pi_emotion.outputs.video import VideoWriter

        outputs.append(stack.enter_context(_closing(VideoWriter(Path(settings.output), source.fps, source.size))))
    return outputs


class _closing:
    """Close an output (or source) on the way out, whatever ended the run."""

    def __init__(self, thing) -> None:
        self.thing = thing

    def __enter__(self):
        return self.thing

    def __exit__(self, *exc) -> None:
        self.thing.close()


def run(settings: Settings) -> int:
    if not settings.source:
        raise UserError("no source: give --source (a video file, /dev/videoN, a camera index or 'picamera')")
    detector = build_detector(settings)
    classifier = EmotionClassifier(model_path(settings), settings.threads, settings.tta)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with ExitStack() as stack:
        source = stack.enter_context(_closing(open_source(SourceSettings(
            settings.source, settings.width, settings.height, settings.fps, settings.loop, settings.realtime))))
        outputs = build_outputs(settings, source, stack)
        pipeline = Pipeline(source, detector, classifier, outputs, settings.overlay, settings.max_frames)
        log.info("running on %s with model %s", source.name, classifier.path.name)
        stats = pipeline.run(stop)
    print(format_summary(stats, source.name), file=sys.stdout, flush=True)
    return 0
