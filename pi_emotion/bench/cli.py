"""The ``pi-emotion bench`` command: options, and which measurement they ask for."""

from __future__ import annotations

import json
from pathlib import Path

from pi_emotion import paths
from pi_emotion.errors import UserError


def main(argv: list[str], parser_class) -> int:
    from pi_emotion import config

    p = parser_class(prog="pi-emotion bench", description="Measure the pipeline's speed on a video.")
    p.add_argument("--source", help="video file (default: the bundled sample)")
    p.add_argument("--frames", type=int, default=300, help="frames to measure after the warm-up (default 300)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--config", type=Path, help="TOML config file whose settings to measure")
    p.add_argument("--detect-every", type=int, help="override the setting of that name")
    p.add_argument("--detect-width", type=int, help="override the setting of that name")
    p.add_argument("--threads", type=int, help="override the setting of that name (model runtime threads)")
    p.add_argument("--cv-threads", type=int, help="override the setting of that name (OpenCV threads)")
    p.add_argument("--keras", type=Path, help="Keras model for the tutorial reference "
                   "(default: models/emotion.keras when TensorFlow is installed)")
    p.add_argument("--no-reference", action="store_true", help="skip the tutorial reference")
    p.add_argument("--stream-clients", metavar="N,N,...",
                   help="instead: CPU per frame with this many stream viewers each, e.g. 0,1,10")
    p.add_argument("--stream-tls-cert", metavar="FILE", help="with --stream-clients: serve the viewers over HTTPS "
                   "with this certificate (and --stream-tls-key)")
    p.add_argument("--stream-tls-key", metavar="FILE", help="the certificate's key")
    p.add_argument("--soak", type=int, metavar="FRAMES", help="soak test instead: FRAMES frames (100000 is about "
                   "an hour) of a camera that drops out now and then, with the stream on, clients coming and "
                   "going and the events file rotating; memory, files and threads sampled, growth per hour")
    p.add_argument("--unpaced", action="store_true", help="with --soak: the camera as fast as the machine goes "
                   "(growth still judged per hour of camera time)")
    p.add_argument("--trace", action="store_true", help="with --soak: name the lines of code whose Python "
                   "allocations grew over the second half (tracemalloc; slower)")
    p.add_argument("--detectors", metavar="NAME,NAME",
                   help="instead: faces found against the ground truth and CPU per frame for each detector, on "
                        "the bundled samples (or --source, with NAME.faces.json beside it), e.g. haar,yunet")
    p.add_argument("--framing", type=Path, metavar="FER2013_CSV",
                   help="instead: where the eyes, nose and mouth of this data's training faces sit in their crops")
    p.add_argument("--integrations", action="store_true", help="instead: CPU per frame with MQTT (to a local "
                   "mosquitto) and /metrics scraped 10 times a second, and the report's speed on a generated day "
                   "of events")
    p.add_argument("--steady", action="store_true",
                   help="instead: what a person watching notices (box movement against detecting every frame, "
                        "label changes, 'uncertain', ids across cuts, false boxes) on the clips with ground truth")
    p.add_argument("--budget", action="store_true",
                   help="instead: the cost model: work per stage in multiply-adds and pixels, how often each runs, "
                        "this machine's ms, and a projection for one core of a Raspberry Pi 4 and 5")
    p.add_argument("--faces", type=int, default=3, help="with --budget or --models: faces in view (default 3)")
    p.add_argument("--models", metavar="MODEL,MODEL",
                   help="instead: latency per face of these TFLite models (paths or shipped names) on the same real "
                        "crops, alternating in one run, once and with the mirror; the first is the reference "
                        "(--faces a batch, --frames rounds; the six-person scene unless --source)")
    p.add_argument("--peer", choices=["fer"],
                   help="instead: CPU per frame of this pipeline and of the fer package on the same frames of the "
                        "bundled sample and six-person scene (or --source), measured in one run")
    a = p.parse_args(argv)
    if a.steady:
        return _steady(a, config)
    if a.framing:
        from pi_emotion.bench.framing import format_framing, measure_framing

        report = measure_framing(a.framing)
        print(json.dumps(report) if a.json else format_framing(report))
        return 0
    if a.detectors:
        return _detectors(a, config)
    if a.frames < 1:
        raise UserError("--frames must be at least 1")
    if a.peer:
        return _peer(a, config)
    if a.models:
        return _models(a, config)
    source = a.source or str(paths.SAMPLES / "sample.mp4")
    if not Path(source).is_file():
        raise UserError(f"bench needs a video file: {source} not found (give --source)")
    flags = {"source": source, **overrides(a)}
    settings = config.resolve(flags, a.config)
    if a.budget:
        if a.faces < 0:
            raise UserError("--faces must be 0 or more")
        from pi_emotion.bench.budget import budget, format_budget

        report = budget(settings, a.faces)
        print(json.dumps(report) if a.json else format_budget(report))
        return 0
    if a.stream_clients:
        try:
            counts = tuple(int(n) for n in a.stream_clients.split(","))
        except ValueError:
            raise UserError("--stream-clients: give counts like 0,1,10") from None
        from pi_emotion.bench.stream import stream_clients_cost

        rows = stream_clients_cost(settings, a.frames, counts)
        print(json.dumps(rows) if a.json else "\n".join(
            f"{r['clients']:>3} viewers ({r['scheme']}): {r['cpu_ms_per_frame']:7.3f} ms CPU per frame, "
            f"{r['fps']:6.1f} fps, {r['jpegs']} JPEGs for {r['frames']} frames" for r in rows))
        return 0
    if a.integrations:
        from pi_emotion.bench.integrations import format_integrations, integrations

        report = integrations(settings, a.frames)
        print(json.dumps(report) if a.json else format_integrations(report))
        return 0
    if a.soak is not None:
        if a.soak < 30:
            raise UserError("--soak: give at least 30 frames")
        from pi_emotion.bench.soak import print_soak, soak

        report = soak(settings, a.soak, paced=not a.unpaced, trace=a.trace)
        print_soak(report, a.json)
        return 1 if report["verdict"] == "GROWING" else 0
    keras_model = None
    if not a.no_reference:
        import importlib.util

        # Looked up, not imported: TensorFlow must not weigh on the measured process until the reference runs.
        keras_model = a.keras or paths.shipped("emotion.keras")
        if importlib.util.find_spec("tensorflow") is None or not keras_model.is_file():
            keras_model = None
    from pi_emotion.bench.speed import format_report, run_bench

    report = run_bench(settings, a.frames, keras_model)
    print(json.dumps(report) if a.json else format_report(report))
    return 0


def _detectors(a, config) -> int:
    from pi_emotion.bench.detection import detection_row, format_rows
    from pi_emotion.perception.detectors import DETECTORS

    names = a.detectors.split(",")
    unknown = [n for n in names if n not in DETECTORS]
    if unknown:
        raise UserError(f"--detectors: unknown detector {unknown[0]!r} (have {', '.join(DETECTORS)})")
    videos = [Path(a.source)] if a.source else [paths.SAMPLES / "sample.mp4", paths.SAMPLES / "scene.mp4"]
    rows = []
    for video in videos:
        if not video.is_file():
            raise UserError(f"bench needs a video file: {video} not found (give --source)")
        for name in names:
            flags = {"source": str(video), "detector": name, **overrides(a)}
            rows.append(detection_row(config.resolve(flags, a.config), video))
    print(json.dumps(rows) if a.json else format_rows(rows))
    return 0


def _models(a, config) -> int:
    from pi_emotion.bench.models import compare_models, format_models

    video = Path(a.source) if a.source else paths.SAMPLES / "scene.mp4"
    if not video.is_file():
        raise UserError(f"bench needs a video file: {video} not found (give --source)")
    names = a.models.split(",")
    if not all(names):
        raise UserError(f"--models: give model names or paths separated by commas, not {a.models!r}")
    if a.faces < 1:
        raise UserError("--faces must be at least 1")
    settings = config.resolve(overrides(a), a.config)
    rows = compare_models([paths.model_path(m) for m in names], video, a.faces, a.frames, settings.threads)
    print(json.dumps(rows) if a.json else format_models(rows))
    return 0


def _peer(a, config) -> int:
    from pi_emotion.bench.peer import format_peer, peer_rows

    videos = [Path(a.source)] if a.source else [paths.SAMPLES / "sample.mp4", paths.SAMPLES / "scene.mp4"]
    for video in videos:
        if not video.is_file():
            raise UserError(f"bench needs a video file: {video} not found (give --source)")
    rows = peer_rows(lambda video: config.resolve({"source": str(video), **overrides(a)}, a.config), videos, a.frames)
    print(json.dumps(rows) if a.json else format_peer(rows))
    return 0


def _steady(a, config) -> int:
    from pi_emotion.bench.steadiness import format_steadiness, steadiness_row

    videos = [Path(a.source)] if a.source else [paths.SAMPLES / n for n in ("steady.mp4", "sample.mp4", "scene.mp4")]
    rows = []
    for video in videos:
        if not video.is_file():
            raise UserError(f"bench needs a video file: {video} not found (give --source)")
        rows.append(steadiness_row(config.resolve({"source": str(video), **overrides(a)}, a.config), video))
    print(json.dumps(rows) if a.json else format_steadiness(rows))
    return 0


def overrides(a) -> dict:
    """The settings given on the bench's own command line."""
    given = (("detect_every", a.detect_every), ("detect_width", a.detect_width), ("threads", a.threads),
             ("cv_threads", a.cv_threads), ("stream_tls_cert", a.stream_tls_cert),
             ("stream_tls_key", a.stream_tls_key))
    return {key: value for key, value in given if value}
