"""Builds the pipeline a set of settings describes, and runs it until the source ends or a signal stops it.

The one place that knows every stage: it turns the flat ``Settings`` into each stage's own
options (``detector_options``, ``source_settings``, ``pipeline_options``, ``mqtt_settings``),
for the run and for the commands and benchmarks that build the same pipeline.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack, closing
from pathlib import Path
from typing import TYPE_CHECKING

from pi_emotion import paths
from pi_emotion.config import Settings
from pi_emotion.errors import UserError
from pi_emotion.integrations.systemd import Notifier
from pi_emotion.outputs import Output
from pi_emotion.outputs.background import BackgroundOutput
from pi_emotion.perception.classify import EmotionClassifier
from pi_emotion.perception.detectors.base import Detector, DetectorOptions
from pi_emotion.perception.evidence import EvidenceOptions
from pi_emotion.runtime import privacy
from pi_emotion.runtime.pipeline import Pipeline, PipelineOptions
from pi_emotion.runtime.stats import format_summary
from pi_emotion.sources import open_source
from pi_emotion.sources.base import FrameSource, SourceSettings

if TYPE_CHECKING:
    import ssl

    from pi_emotion.integrations.mqtt.settings import MqttSettings

log = logging.getLogger("pi_emotion")


def detector_options(s: Settings) -> DetectorOptions:
    """The chosen detector's own options (``s.detector`` names it)."""
    if s.detector == "haar":
        from pi_emotion.perception.detectors.haar import HaarOptions

        cascade = {"cascade": Path(s.cascade)} if s.cascade else {}
        return HaarOptions(s.detect_width, s.min_face, scale_factor=s.scale_factor, min_neighbors=s.min_neighbors,
                           **cascade)
    from pi_emotion.perception.detectors.yunet import YuNetOptions

    model = {"model": Path(s.detector_model)} if s.detector_model else {}
    return YuNetOptions(s.detect_width, s.min_face, score_threshold=s.score_threshold,
                        nms_threshold=s.nms_threshold, **model)


def source_settings(s: Settings) -> SourceSettings:
    return SourceSettings(s.source, s.width, s.height, s.fps, s.loop, s.realtime, s.detect_width)


def pipeline_options(s: Settings) -> PipelineOptions:
    evidence = EvidenceOptions(s.smooth_seconds, s.switch_seconds, s.min_confidence)
    return PipelineOptions(overlay=s.overlay, max_frames=s.max_frames, detect_every=s.detect_every,
                           detect_thread=s.detect_thread, fine_every=s.fine_every, cut_threshold=s.cut_threshold,
                           track_hold=s.track_hold, classify_rate=s.classify_rate, evidence=evidence,
                           margin=s.margin, blur_faces=s.blur_faces, notice=s.notice)


def mqtt_settings(s: Settings) -> MqttSettings:
    """Where the broker is and what this appliance is called there; checked (``s.mqtt`` must be set)."""
    from pi_emotion.integrations.mqtt.settings import MqttSettings

    return MqttSettings.parse(s.mqtt, s.device_name, s.mqtt_user, s.mqtt_password, s.mqtt_tls, s.mqtt_ca,
                              s.mqtt_prefix, s.ha_prefix)


def build_classifier(settings: Settings) -> EmotionClassifier:
    return EmotionClassifier(paths.model_path(settings.model), settings.threads, settings.tta)


def build_detector(settings: Settings) -> Detector:
    from pi_emotion.perception import detectors

    return detectors.create(settings.detector, detector_options(settings))


def shown_labels(settings: Settings, classifier: EmotionClassifier) -> tuple[str, ...]:
    """Every label a face may be shown with: the model's, and "uncertain" where low confidence is named so."""
    from pi_emotion.results.frame import UNCERTAIN

    return classifier.labels + ((UNCERTAIN,) if settings.min_confidence > 0 else ())


def describe(classifier: EmotionClassifier, detector: Detector) -> dict[str, str]:
    """What this appliance runs, for MQTT state and /metrics."""
    from pi_emotion import __version__

    return {"version": __version__, "model": classifier.path.name, "detector": detector.name}


def run_record(settings: Settings, source: str, live: bool, labels: tuple[str, ...],
               about: dict[str, str]) -> dict:
    """The events file's first line for this run: what made the lines that follow (``about``: ``describe``)."""
    import time

    from pi_emotion.config import RESULT_KEYS
    from pi_emotion.results.frame import iso_utc

    return {"type": "run", "start": iso_utc(time.time()), "source": source, "live": live, **about,
            "labels": list(labels), "settings": {key: getattr(settings, key) for key in RESULT_KEYS}}


def open_events(settings: Settings, labels: tuple[str, ...], header: dict | None = None) -> Output:
    """The events file: a line per frame, or a line of aggregates per interval (summary, aggregates-only mode).

    ``header`` (``run_record``) is written first.
    """
    from pi_emotion.outputs.events import EventsWriter

    summary = settings.events_mode == "summary" or privacy.aggregates_only(settings)
    lines = EventsWriter(Path(settings.events), int(settings.events_max_mb * 1e6), settings.events_keep,
                         "all" if summary else settings.events_mode, header)
    if not summary:
        return lines
    if settings.events_mode != "summary":
        log.info("--privacy aggregate: the events file gets one summary line per %g s", settings.interval)
    from pi_emotion.outputs.summary import SummaryWriter
    from pi_emotion.results.aggregate import IntervalAggregator

    return SummaryWriter(lines, IntervalAggregator(settings.interval, settings.min_group, labels))


def build_mqtt(settings: Settings, classifier: EmotionClassifier, detector: Detector) -> Output | None:
    """The MQTT output (it connects in the background), or None without ``--mqtt``."""
    if not settings.mqtt:
        return None
    from pi_emotion.integrations.mqtt.output import MqttOutput
    from pi_emotion.results.aggregate import IntervalAggregator

    ms = mqtt_settings(settings)
    aggregator = None
    if privacy.aggregates_only(settings):
        log.info("--privacy aggregate: MQTT gets one aggregate state per %g s and no face events", settings.interval)
        aggregator = IntervalAggregator(settings.interval, settings.min_group, shown_labels(settings, classifier))
    page = ""
    if settings.stream:
        from pi_emotion.integrations.stream.server import network_url, parse_address

        page = network_url(parse_address(settings.stream), tls=bool(settings.stream_tls_cert))
    return MqttOutput(ms, shown_labels(settings, classifier), describe(classifier, detector), aggregator,
                      page_url=page)


def build_outputs(settings: Settings, source: FrameSource, stack: ExitStack, labels: tuple[str, ...],
                  stop: threading.Event, pause: threading.Event, about: dict[str, str]) -> list[Output]:
    """Outputs in the order they run; each is closed by ``stack`` however the run ends.

    ``stop`` and ``pause`` are the run's controls, for outputs a person steers (a desktop window);
    ``about`` (``describe``) goes into the events file's run line.
    """
    outputs: list[Output] = []
    if settings.events:
        events = open_events(settings, labels, run_record(settings, source.name, source.live, labels, about))
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
    return Pipeline(source, detector, classifier, outputs, pipeline_options(settings))


def stream_password(settings: Settings) -> str:
    return settings.stream_password or os.environ.get("PI_EMOTION_STREAM_PASSWORD", "")


def stream_tls(settings: Settings) -> ssl.SSLContext | None:
    """The browser view's TLS context, its certificate and key checked; None without them."""
    if not (settings.stream_tls_cert or settings.stream_tls_key):
        return None
    from pi_emotion.integrations.stream.tls import server_context

    return server_context(settings.stream_tls_cert, settings.stream_tls_key)


def check_stream(settings: Settings) -> ssl.SSLContext | None:
    """Before anything heavy loads: the browser view's exposure allowed, its TLS usable (the context returned)."""
    from pi_emotion.integrations.stream.server import check_access, parse_address

    tls = stream_tls(settings)
    for warning in check_access(parse_address(settings.stream), stream_password(settings),
                                settings.stream_allow_anonymous, tls is not None, settings.stream_allow_http):
        log.warning("%s", warning)
    return tls


def start_stream(settings: Settings, hub, status_of: Callable[[], dict], metrics: Callable[[], tuple[bytes, str]],
                 tls: ssl.SSLContext | None = None):
    """The browser view's HTTP(S) server (with /metrics), listening and serving in its own thread."""
    from pi_emotion.integrations.stream.server import StreamServer, parse_address

    private = privacy.aggregates_only(settings)
    if private:
        log.info("--privacy aggregate: the browser view serves no video, snapshots or per-face events")
    server = StreamServer(hub, parse_address(settings.stream), stream_password(settings), status_of, metrics=metrics,
                          private=private, tls=tls)
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
    from pi_emotion.runtime.metrics import AppCollector, renderer
    from pi_emotion.runtime.soc import SocSensors

    return renderer(AppCollector(pipeline.stats, lambda: source.waiting, describe(classifier, pipeline.detector),
                                 SocSensors()))


def run(settings: Settings) -> int:
    if not settings.source:
        raise UserError("no source: give a file (pi-emotion clip.mp4) or --source (a video file, pictures, "
                        "/dev/videoN, a camera index or 'picamera')")
    privacy.check(settings)
    tls = check_stream(settings) if settings.stream else None
    detector = build_detector(settings)
    classifier = build_classifier(settings)
    from pi_emotion.sources.pictures import is_pictures

    if is_pictures(settings.source):
        from pi_emotion.runtime.stills import run_pictures

        labels = shown_labels(settings, classifier)
        header = run_record(settings, settings.source, False, labels, describe(classifier, detector))
        return run_pictures(settings, build_pipeline(settings, None, detector, classifier, []),
                            lambda: open_events(settings, labels, header))
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
        source = stack.enter_context(closing(open_source(source_settings(settings), reconnect=True,
                                                         wait=settings.wait_for_source or notifier.active)))
        outputs = build_outputs(settings, source, stack, shown_labels(settings, classifier), stop, pause,
                                describe(classifier, detector))
        mqtt = build_mqtt(settings, classifier, detector)
        if mqtt is not None:
            outputs.append(stack.enter_context(closing(mqtt)))
        hub = None
        if settings.stream:
            from pi_emotion.integrations.stream.hub import FrameHub, StreamOutput

            hub = FrameHub(max_clients=settings.stream_max_clients, labels=shown_labels(settings, classifier))
            outputs.append(stack.enter_context(closing(StreamOutput(hub, private=privacy.aggregates_only(settings),
                                                                    min_group=settings.min_group))))
        pipeline = build_pipeline(settings, source, detector, classifier, outputs)
        if hub is not None:
            page_status = lambda: {**status(pipeline, source, classifier),  # noqa: E731
                                   "privacy": settings.privacy, "notice": settings.notice,
                                   "device": settings.device_name or socket.gethostname()}
            stack.enter_context(closing(start_stream(settings, hub, page_status,
                                                     metrics_renderer(pipeline, source, classifier), tls)))
        pipeline.hooks.append(notifier.on_frame)
        pipeline.idle_hooks.append(notifier.waiting)
        log.info("running on %s with model %s", source.name, classifier.path.name)
        from pi_emotion.runtime.progress import bar

        # a file read once, as fast as it goes: how far, how fast, how long still (on a terminal only)
        length = getattr(source, "frames", 0) if not (source.live or settings.loop or source.realtime) else 0
        progress = stack.enter_context(bar(min(length, settings.max_frames or length), "frames", bool(length)))
        pipeline.hooks.append(lambda result, stats: progress.update(1))
        stats = pipeline.run(stop, pause)
    print(format_summary(stats, source.name), file=sys.stdout, flush=True)
    return 0
