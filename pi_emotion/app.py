"""Builds the pipeline a set of settings describes, and runs it until the source ends or a signal stops it."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack, closing
from pathlib import Path

from pi_emotion import paths
from pi_emotion.classify import EmotionClassifier
from pi_emotion.config import Settings
from pi_emotion.detectors import Detector
from pi_emotion.errors import UserError
from pi_emotion.outputs import Output
from pi_emotion.outputs.background import BackgroundOutput
from pi_emotion.pipeline import Pipeline
from pi_emotion.service import Notifier
from pi_emotion.sources import FrameSource, SourceSettings, open_source
from pi_emotion.stats import format_summary

log = logging.getLogger("pi_emotion")


def build_classifier(settings: Settings) -> EmotionClassifier:
    model = Path(settings.model) if settings.model else paths.shipped(paths.MODEL)
    return EmotionClassifier(model, settings.threads, settings.tta)


def build_detector(settings: Settings) -> Detector:
    from pi_emotion import detectors

    return detectors.create(settings)


def build_outputs(settings: Settings, source: FrameSource, stack: ExitStack, stop: threading.Event,
                  pause: threading.Event) -> list[Output]:
    """Outputs in the order they run; each is closed by ``stack`` however the run ends.

    ``stop`` and ``pause`` are the run's controls, for outputs a person steers (a desktop window).
    """
    outputs: list[Output] = []
    if settings.events:
        from pi_emotion.outputs.events import EventsWriter

        events = EventsWriter(Path(settings.events), int(settings.events_max_mb * 1e6), settings.events_keep,
                              settings.events_mode)
        outputs.append(stack.enter_context(closing(BackgroundOutput(events, keep_all=True, name="events-writer"))))
    if settings.output:
        from pi_emotion.outputs.video import VideoWriter

        writer = VideoWriter(Path(settings.output), source.fps, source.size)
        outputs.append(stack.enter_context(closing(BackgroundOutput(writer, keep_all=True, name="video-writer"))))
    from pi_emotion.outputs.display import open_display

    display = open_display(settings.display, stop, pause)
    if display is not None:
        outputs.append(stack.enter_context(closing(BackgroundOutput(display, keep_all=False, name="display"))))
    return outputs


def build_pipeline(settings: Settings, source: FrameSource | None, detector: Detector,
                   classifier: EmotionClassifier, outputs: list[Output]) -> Pipeline:
    import cv2

    cv2.setNumThreads(settings.cv_threads)
    return Pipeline(source, detector, classifier, outputs, overlay=settings.overlay, max_frames=settings.max_frames,
                    detect_every=settings.detect_every, smooth_window=settings.smooth_window,
                    track_hold=settings.track_hold, min_confidence=settings.min_confidence, margin=settings.margin)


def stream_password(settings: Settings) -> str:
    return settings.stream_password or os.environ.get("PI_EMOTION_STREAM_PASSWORD", "")


def start_stream(settings: Settings, hub, status_of: Callable[[], dict]):
    """The browser view's HTTP server, listening and serving in its own thread."""
    from pi_emotion.stream.server import StreamServer, parse_address

    server = StreamServer(hub, parse_address(settings.stream), stream_password(settings), status_of)
    server.start()
    log.info("browser view at %s", server.url)
    return server


def status(pipeline: Pipeline, source: FrameSource, classifier: EmotionClassifier) -> dict:
    """The figures of /api/status."""
    from pi_emotion import __version__

    stats = pipeline.stats
    state = "waiting for camera" if source.waiting else "running"
    return {"version": __version__, "state": state, "uptime_s": round(stats.elapsed, 1), "source": source.name,
            "model": classifier.path.name, "fps": round(stats.recent_fps, 2), "frames": stats.frames,
            "faces_now": stats.last_faces, "dropped": stats.dropped,
            "stages": {k: {m: round(v, 3) for m, v in d.items()} for k, d in stats.stages.summary().items()}}


def run(settings: Settings) -> int:
    if not settings.source:
        raise UserError("no source: give --source (a video file, /dev/videoN, a camera index or 'picamera')")
    if settings.stream:
        from pi_emotion.stream.server import check_access, parse_address

        check_access(parse_address(settings.stream), stream_password(settings), settings.stream_allow_anonymous)
    detector = build_detector(settings)
    classifier = build_classifier(settings)
    from pi_emotion.sources.pictures import is_pictures

    if is_pictures(settings.source):
        from pi_emotion.stills import run_pictures

        return run_pictures(settings, build_pipeline(settings, None, detector, classifier, []))
    notifier = Notifier()
    stop, pause = threading.Event(), threading.Event()

    def request_stop(*_) -> None:
        notifier.stopping()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, request_stop)
    with ExitStack() as stack:
        # Under systemd a camera that is not there yet is waited for: exiting would only get the service
        # restarted a few times and then given up on, leaving a Pi that booted before its camera dead.
        source = stack.enter_context(closing(open_source(SourceSettings(
            settings.source, settings.width, settings.height, settings.fps, settings.loop, settings.realtime,
            settings.detect_width), reconnect=True, wait=settings.wait_for_source or notifier.active)))
        outputs = build_outputs(settings, source, stack, stop, pause)
        hub = None
        if settings.stream:
            from pi_emotion.stream.hub import FrameHub, StreamOutput

            hub = FrameHub(max_clients=settings.stream_max_clients)
            outputs.append(stack.enter_context(closing(StreamOutput(hub))))
        pipeline = build_pipeline(settings, source, detector, classifier, outputs)
        if hub is not None:
            stack.enter_context(closing(start_stream(settings, hub, lambda: status(pipeline, source, classifier))))
        pipeline.hooks.append(notifier.on_frame)
        pipeline.idle_hooks.append(notifier.waiting)
        log.info("running on %s with model %s", source.name, classifier.path.name)
        stats = pipeline.run(stop, pause)
    print(format_summary(stats, source.name), file=sys.stdout, flush=True)
    return 0
