"""One settings object for a run: defaults <- TOML file <- command-line flags, validated in one place.

Every field is both a config-file key (``detect_width``) and a flag (``--detect-width``);
the table below is the single source of both, so they cannot drift apart. A one-camera
appliance suits one flat table; each stage gets only its own options object, built from it
in one place (``pi_emotion.runtime.app``), so the stages never see ``Settings``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pi_emotion.errors import UserError
from pi_emotion.paths import IMAGE_SUFFIXES, VIDEO_FOURCC
from pi_emotion.perception.detectors import DETECTORS

SYSTEM_CONFIG = Path("/etc/pi-emotion/config.toml")
DETECTOR_NAMES = tuple(DETECTORS)
# which frames the events file gets (pi_emotion.outputs.events.MODES), or "summary": a line per interval instead
EVENTS_MODES = ("all", "faces", "summary")
# the settings that change what the appliance says about faces: recorded in every events file's run line
RESULT_KEYS = ("detector", "detect_width", "min_face", "detect_every", "detect_thread", "fine_every", "cut_threshold",
               "score_threshold", "nms_threshold", "detector_model", "cascade", "scale_factor", "min_neighbors",
               "margin", "track_hold", "classify_rate", "smooth_seconds", "switch_seconds", "min_confidence", "model",
               "tta", "events_mode", "privacy", "min_group", "interval")
# keys of earlier versions, accepted in config files (an upgrade keeps the file) and ignored with a warning
RETIRED = {"smooth_window": "labels now rest on evidence over time: see smooth_seconds and switch_seconds"}


# what the options are for: --help lists them under these headings, in this order
GROUPS = {"general": "general", "source": "source: what to watch",
          "detection": "detection: finding and following faces",
          "classification": "classification: the emotion model and how labels settle",
          "outputs": "outputs: recordings, events, a screen", "stream": "stream: the browser view",
          "mqtt": "MQTT and Home Assistant", "privacy": "privacy and aggregates",
          "unattended": "running unattended: a late camera, records kept for months"}


def _opt(default: Any, help: str, *, group: str, choices: tuple | None = None, lo: float | None = None,
         hi: float | None = None, secret: bool = False, metavar: str | None = None) -> Any:
    if group not in GROUPS:
        raise ValueError(f"option group {group!r} is not one of {', '.join(GROUPS)}")
    return field(default=default, metadata={"help": help, "choices": choices, "lo": lo, "hi": hi,
                                            "secret": secret, "metavar": metavar, "group": group})


@dataclass(frozen=True)
class Settings:
    # source
    source: str = _opt("", "video file, /dev/videoN, camera index, or 'picamera'", metavar="SRC", group="source")
    width: int = _opt(640, "camera frame width", lo=64, hi=4096, group="source")
    height: int = _opt(480, "camera frame height", lo=64, hi=4096, group="source")
    fps: float = _opt(30.0, "camera frame rate", lo=1, hi=240, group="source")
    loop: bool = _opt(False, "start a video file again at its end", group="source")
    realtime: bool = _opt(False, "pace a video file at its own fps, dropping frames when behind", group="source")
    # detection
    detector: str = _opt("yunet", "face detector: yunet (small, dim and turned faces, landmarks) or haar "
                         "(the classic cascade)", choices=DETECTOR_NAMES, metavar="NAME", group="detection")
    detect_width: int = _opt(320, "width the frame is scaled to for face detection", lo=64, hi=4096, group="detection")
    min_face: int = _opt(20, "smallest face, in pixels at detection width", lo=8, hi=1024, group="detection")
    detect_every: int = _opt(2, "detect faces every k-th frame and follow them in between", lo=1, hi=30,
                             group="detection")
    detect_thread: bool = _opt(True, "with a camera or --realtime, detect faces on a thread of their own, so a slow "
                               "detection never holds up the frame loop (files run as fast as they go detect inline, "
                               "frame by frame)", group="detection")
    detector_model: str = _opt("", "YuNet ONNX file (default: the one shipped in models/)", metavar="FILE",
                               group="detection")
    score_threshold: float = _opt(0.6, "YuNet: confidence a face needs", lo=0.05, hi=1.0, group="detection")
    nms_threshold: float = _opt(0.3, "YuNet: overlap above which two boxes are one face", lo=0.05, hi=1.0,
                                group="detection")
    cascade: str = _opt("", "Haar cascade XML (default: the one shipped in models/)", metavar="FILE", group="detection")
    scale_factor: float = _opt(1.25, "Haar: cascade scale step", lo=1.01, hi=2.0, group="detection")
    min_neighbors: int = _opt(3, "Haar: cascade detections needed to accept a face", lo=0, hi=50, group="detection")
    margin: float = _opt(0.0, "Haar: border added around each face box before classifying, as a fraction of "
                         "its side (YuNet crops are framed from the face's landmarks)", lo=0, hi=1, group="detection")
    # following faces
    fine_every: float = _opt(1.0, "seconds between finer detection passes (twice the width, half the smallest "
                             "face) that find small, far faces; 0: none", lo=0, hi=3600, group="detection")
    cut_threshold: float = _opt(12.0, "change of the picture (grey levels) that makes a hard cut, where every "
                                "face is someone new; 0: never", lo=0, hi=255, group="detection")
    track_hold: float = _opt(1.0, "seconds a face keeps its id while the detector does not see it", lo=0.05, hi=60,
                             group="detection")
    classify_rate: float = _opt(5.0, "classifications per face per second at most, on frames where the face was "
                                "detected; 0: every such frame", lo=0, hi=240, group="classification")
    smooth_seconds: float = _opt(1.5, "time constant over which a face's views add up to its label", lo=0.05,
                                 hi=600, group="classification")
    switch_seconds: float = _opt(0.7, "seconds another label must lead the evidence before it is shown", lo=0,
                                 hi=600, group="classification")
    min_confidence: float = _opt(0.35, "below this share of the evidence a face is labelled 'uncertain'", lo=0,
                                 hi=1, group="classification")
    # classification
    model: str = _opt("", "TFLite model with its .json metadata, or the name of a shipped one "
                      "(default: emotion.tflite)", metavar="FILE", group="classification")
    threads: int = _opt(1, "model runtime threads", lo=1, hi=16, group="classification")
    cv_threads: int = _opt(2, "OpenCV worker threads (detection, resizing); leaves cores for capture and model",
                           lo=1, hi=16, group="detection")
    tta: bool = _opt(True, "also classify the mirrored face and average (test-time augmentation)",
                     group="classification")
    # outputs
    output: str = _opt("", f"write the annotated video to this file ({', '.join(VIDEO_FOURCC)}); for still "
                       f"pictures, a picture file ({', '.join(sorted(IMAGE_SUFFIXES))}) or a folder", metavar="FILE",
                       group="outputs")
    events: str = _opt("", "write one JSON line per processed frame to this file", metavar="FILE", group="outputs")
    display: str = _opt("none", "show the picture: none, window (desktop), fb or fb:/dev/fbN (HDMI console)",
                        metavar="KIND", group="outputs")
    overlay: bool = _opt(False, "draw fps and face count on the frames", group="outputs")
    stream: str = _opt("", "serve the browser view on [HOST:]PORT (host defaults to 127.0.0.1)",
                       metavar="[HOST:]PORT", group="stream")
    stream_password: str = _opt("", "password for the browser view (HTTP Basic; any user name); "
                                "also $PI_EMOTION_STREAM_PASSWORD", secret=True, metavar="PASSWORD", group="stream")
    stream_max_clients: int = _opt(16, "most simultaneous video viewers", lo=1, hi=256, group="stream")
    stream_tls_cert: str = _opt("", "serve the browser view over HTTPS with this certificate (PEM, any chain after "
                                "it); with --stream-tls-key", metavar="FILE", group="stream")
    stream_tls_key: str = _opt("", "the certificate's private key (PEM, unencrypted)", metavar="FILE", group="stream")
    max_frames: int = _opt(0, "stop after this many frames (0: no limit)", lo=0, group="source")
    log_level: str = _opt("info", "log level", choices=("debug", "info", "warning", "error"), group="general")
    # running unattended: a late camera, records kept for months, no anonymous network stream
    wait_for_source: bool = _opt(False, "start without the source and open it when it comes, retrying with "
                                 "backoff (always on under systemd)", group="unattended")
    events_max_mb: float = _opt(50.0, "rotate the events file when it reaches this size, in MB", lo=0.001,
                                hi=1_000_000, group="unattended")
    events_keep: int = _opt(5, "rotated events files kept (events.jsonl.1, .2, ...)", lo=1, hi=1000,
                            group="unattended")
    events_mode: str = _opt("all", "what the events file gets: all frames, only those with faces, or a summary "
                            "line of aggregates per --interval", choices=EVENTS_MODES, group="outputs")
    stream_allow_anonymous: bool = _opt(False, "allow the browser view on a network address without a password",
                                        group="stream")
    stream_allow_http: bool = _opt(False, "allow the browser view on a network address over plain HTTP (pictures "
                                   "and password readable on the network)", group="stream")
    # MQTT and Home Assistant
    mqtt: str = _opt("", "publish state and face events to this MQTT broker, HOST[:PORT] (port 1883, 8883 with TLS)",
                     metavar="HOST[:PORT]", group="mqtt")
    mqtt_user: str = _opt("", "MQTT user name", metavar="USER", group="mqtt")
    mqtt_password: str = _opt("", "MQTT password; also $PI_EMOTION_MQTT_PASSWORD", secret=True, metavar="PASSWORD",
                              group="mqtt")
    mqtt_tls: bool = _opt(False, "connect to the broker over TLS, checked against the system's CAs or --mqtt-ca",
                          group="mqtt")
    mqtt_ca: str = _opt("", "CA certificate (PEM) for the broker's TLS certificate; implies --mqtt-tls",
                        metavar="FILE", group="mqtt")
    mqtt_prefix: str = _opt("pi-emotion", "first level of this appliance's MQTT topics", metavar="PREFIX", group="mqtt")
    device_name: str = _opt("", "this appliance's name in MQTT topics, Home Assistant and the browser view "
                                "(default: the host name)", metavar="NAME", group="mqtt")
    ha_prefix: str = _opt("homeassistant", "Home Assistant discovery prefix; empty: no discovery", metavar="PREFIX",
                          group="mqtt")
    # privacy and aggregates
    blur_faces: bool = _opt(False, "pixelate faces in every picture that leaves the appliance "
                            "(stream, snapshot, recording, display); labels stay readable", group="privacy")
    privacy: str = _opt("standard", "'aggregate': no picture leaves the appliance, and events and MQTT carry only "
                        "per-interval aggregates", choices=("standard", "aggregate"), group="privacy")
    min_group: int = _opt(3, "aggregates of fewer distinct faces than this are suppressed", lo=1, hi=1000,
                          group="privacy")
    interval: float = _opt(60.0, "seconds per aggregate (events summary, --privacy aggregate)", lo=1, hi=86400,
                           group="privacy")
    notice: bool = _opt(False, "show 'emotion analysis active' on the picture and on the browser page", group="privacy")

    def redacted(self) -> dict[str, Any]:
        return {f.name: ("***" if f.metadata["secret"] and getattr(self, f.name) else getattr(self, f.name))
                for f in dataclasses.fields(self)}


_TYPES = typing.get_type_hints(Settings)
FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def check(key: str, value: Any, where: str) -> Any:
    """Validate one value for ``key``; ``where`` names it in the message (a flag or a file key)."""
    kind = _TYPES[key]
    meta = FIELDS[key].metadata
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UserError(f"{where}: expected {kind.__name__}, got {value!r}")
    if kind is float and not math.isfinite(value):
        raise UserError(f"{where}: must be a finite number, not {value!r}")
    if meta["choices"] and value not in meta["choices"]:
        raise UserError(f"{where}: must be one of {', '.join(meta['choices'])}, not {value!r}")
    if meta["lo"] is not None and value < meta["lo"]:
        raise UserError(f"{where}: must be at least {meta['lo']}, not {value!r}")
    if meta["hi"] is not None and value > meta["hi"]:
        raise UserError(f"{where}: must be at most {meta['hi']}, not {value!r}")
    return value


def read_file(path: Path) -> dict[str, Any]:
    """Keys of a TOML config file, each checked; unknown keys are errors, not silently ignored."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise UserError(f"config file {path} not found") from None
    except OSError as exc:
        raise UserError(f"config file {path} cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"config file {path} is not valid TOML ({exc})") from None
    for key in sorted(set(data) & set(RETIRED)):
        logging.getLogger(__name__).warning("config file %s: %s is no longer used (%s)", path, key, RETIRED[key])
        del data[key]
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise UserError(f"config file {path}: unknown key {unknown[0]!r}")
    return {key: check(key, value, f"{path}: {key}") for key, value in data.items()}


def keys_in(group: str) -> tuple[str, ...]:
    """The settings of one group (``GROUPS``), in table order."""
    return tuple(name for name, f in FIELDS.items() if f.metadata["group"] == group)


def add_flags(parser: argparse.ArgumentParser, keys: tuple[str, ...] | None = None,
              groups: dict[str, Any] | None = None) -> dict[str, Any]:
    """One flag per setting (or per one of ``keys``), each under its group's heading; returns the headings.

    ``groups`` are headings the caller made already (``general``, to put its own options there).
    Flags left out do not appear in the parsed namespace.
    """
    groups = dict(groups or {})
    chosen = [name for name in FIELDS if keys is None or name in keys]
    for group, title in GROUPS.items():
        if group not in groups and any(FIELDS[name].metadata["group"] == group for name in chosen):
            groups[group] = parser.add_argument_group(title)
    for name in chosen:
        f = FIELDS[name]
        flag = "--" + name.replace("_", "-")
        meta = f.metadata
        kind = _TYPES[name]
        helptext = f"{meta['help']} (default: {f.default!r})" if f.default not in ("", False) else meta["help"]
        group = groups[meta["group"]]
        if kind is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                               help=meta["help"])
        else:
            group.add_argument(flag, type=_parse_as(kind, flag), default=argparse.SUPPRESS, help=helptext,
                               metavar=meta["metavar"] or _metavar(kind, meta["choices"]))
    return groups


def _metavar(kind: type, choices: tuple | None) -> str:
    return "{" + ",".join(choices) + "}" if choices else kind.__name__.upper()


def _parse_as(kind: type, flag: str):
    def parse(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None

    parse.__name__ = kind.__name__
    return parse


def resolve(flags: dict[str, Any], config_path: Path | None) -> Settings:
    """Defaults, then the config file (``--config`` or the system one if present), then flags."""
    values: dict[str, Any] = {}
    path = config_path or (SYSTEM_CONFIG if SYSTEM_CONFIG.exists() else None)
    if path is not None:
        values.update(read_file(path))
    for key, value in flags.items():
        values[key] = check(key, value, "--" + key.replace("_", "-"))
    return Settings(**values)


def to_toml(settings: Settings) -> str:
    """The effective settings as a config file, secrets redacted."""
    lines = []
    for key, value in settings.redacted().items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str):
            text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        else:
            text = repr(value)
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"

