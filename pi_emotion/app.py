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

from pi_emotion import paths, privacy
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


def model_path(settings: Settings) -> Path:
    """The model to run: a path as given, or a bare name such as ``emotion-5class.tflite`` of a shipped one."""
    if not settings.model:
        return paths.shipped(paths.MODEL)
    given = Path(settings.model)
    return paths.shipped(given.name) if given.name == settings.model and not given.exists() else given


def build_classifier(settings: Settings) -> EmotionClassifier:
    return EmotionClassifier(model_path(settings), settings.threads, settings.tta)


def build_detector(settings: Settings) -> Detector:
    from pi_emotion import detectors

    return detectors.create(settings)


def shown_labels(settings: Settings, classifier: EmotionClassifier) -> tuple[str, ...]:
    """Every label a face may be shown with: the model's, and "uncertain" where low confidence is named so."""
    from pi_emotion.results import UNCERTAIN

    return classifier.labels + ((UNCERTAIN,) if settings.min_confidence > 0 else ())


def describe(classifier: EmotionClassifier, detector: Detector) -> dict[str, str]:
    """What this appliance runs, for MQTT state and /metrics."""
    from pi_emotion import __version__

    return {"version": __version__, "model": classifier.path.name, "detector": detector.name}


def open_events(settings: Settings, labels: tuple[str, ...]) -> Output:
    """The events file: a line per frame, or a line of aggregates per interval (summary, aggregates-only mode)."""
    from pi_emotion.outputs.events import EventsWriter

    summary = settings.events_mode == "summary" or privacy.aggregates_only(settings)
    lines = EventsWriter(Path(settings.events), int(settings.events_max_mb * 1e6), settings.events_keep,
                         "all" if summary else settings.events_mode)
    if not summary:
        return lines
    if settings.events_mode != "summary":
        log.info("--privacy aggregate: the events file gets one summary line per %g s", settings.interval)
    from pi_emotion.aggregate import IntervalAggregator
    from pi_emotion.outputs.summary import SummaryWriter

    return SummaryWriter(lines, IntervalAggregator(settings.interval, settings.min_group, labels))


def build_mqtt(settings: Settings, classifier: EmotionClassifier, detector: Detector) -> Output | None:
    """The MQTT output (it connects in the background), or None without ``--mqtt``."""
    if not settings.mqtt:
        return None
    from pi_emotion.aggregate import IntervalAggregator
    from pi_emotion.mqtt.settings import MqttSettings
    from pi_emotion.outputs.mqtt import MqttOutput

    ms = MqttSettings.from_settings(settings)
    aggregator = None
    if privacy.aggregates_only(settings):
        log.info("--privacy aggregate: MQTT gets one aggregate state per %g s and no face events", settings.interval)
        aggregator = IntervalAggregator(settings.interval, settings.min_group, shown_labels(settings, classifier))
    return MqttOutput(ms, shown_labels(settings, classifier), describe(classifier, detector), aggregator)


def build_outputs(settings: Settings, source: FrameSource, stack: ExitStack, labels: tuple[str, ...],
                  stop: threading.Event, pause: threading.Event) -> list[Output]:
    """Outputs in the order they run; each is closed by ``stack`` however the run ends.

    ``stop`` and ``pause`` are the run's controls, for outputs a person steers (a desktop window).
    """
    outputs: list[Output] = []
    if settings.events:
        events = open_events(settings, labels)
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
                    track_hold=settings.track_hold, min_confidence=settings.min_confidence, margin=settings.margin,
                    blur_faces=settings.blur_faces, notice=settings.notice)


def stream_password(settings: Settings) -> str:
    return settings.stream_password or os.environ.get("PI_EMOTION_STREAM_PASSWORD", "")


def start_stream(settings: Settings, hub, status_of: Callable[[], dict], metrics: Callable[[], tuple[bytes, str]]):
    """The browser view's HTTP server (with /metrics), listening and serving in its own thread."""
    from pi_emotion.stream.server import StreamServer, parse_address

    private = privacy.aggregates_only(settings)
    if private:
        log.info("--privacy aggregate: the browser view serves no video, snapshots or per-face events")
    server = StreamServer(hub, parse_address(settings.stream), stream_password(settings), status_of, metrics=metrics,
                          private=private)
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


def metrics_renderer(pipeline: Pipeline, source: FrameSource, classifier: EmotionClassifier):
    from pi_emotion.metrics import AppCollector, renderer
    from pi_emotion.soc import SocSensors

    return renderer(AppCollector(pipeline.stats, lambda: source.waiting, describe(classifier, pipeline.detector),
                                 SocSensors()))


def run(settings: Settings) -> int:
    if not settings.source:
        raise UserError("no source: give --source (a video file, /dev/videoN, a camera index or 'picamera')")
    privacy.check(settings)
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
        outputs = build_outputs(settings, source, stack, shown_labels(settings, classifier), stop, pause)
        mqtt = build_mqtt(settings, classifier, detector)
        if mqtt is not None:
            outputs.append(stack.enter_context(closing(mqtt)))
        hub = None
        if settings.stream:
            from pi_emotion.stream.hub import FrameHub, StreamOutput

            hub = FrameHub(max_clients=settings.stream_max_clients)
            outputs.append(stack.enter_context(closing(StreamOutput(hub, private=privacy.aggregates_only(settings)))))
        pipeline = build_pipeline(settings, source, detector, classifier, outputs)
        if hub is not None:
            page_status = lambda: {**status(pipeline, source, classifier),  # noqa: E731
                                   "privacy": settings.privacy, "notice": settings.notice}
            stack.enter_context(closing(start_stream(settings, hub, page_status,
                                                     metrics_renderer(pipeline, source, classifier))))
        pipeline.hooks.append(notifier.on_frame)
        pipeline.idle_hooks.append(notifier.waiting)
        log.info("running on %s with model %s", source.name, classifier.path.name)
        stats = pipeline.run(stop, pause)
    print(format_summary(stats, source.name), file=sys.stdout, flush=True)
    return 0
