"""Command line: options, subcommands and exit codes, nothing else.

``pi-emotion [FILE] [run options]`` runs the appliance; the names in ``COMMANDS`` are
subcommands. A problem the user can fix prints one line and exits 2.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from pi_emotion import __version__, paths
from pi_emotion.errors import UserError

EXIT_USAGE = 2


EXAMPLES = """\
examples:
  pi-emotion clip.mp4 --output annotated.mp4 --events events.jsonl
  pi-emotion photo.jpg --output annotated.jpg
  pi-emotion --source /dev/video0 --stream 8000          # browser view on http://127.0.0.1:8000/
  pi-emotion --source picamera --mqtt homeassistant.local --device-name "Lab camera"
  pi-emotion analyse 'study/*.mp4' -o tables/            # recordings into CSV tables
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, not a usage block, and a mistyped option gets the closest real one."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog.removeprefix('pi-emotion').strip() or 'usage'}: {message}")

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        args = sys.argv[1:] if args is None else list(args)
        if self._subparsers is None:  # options of subparsers are theirs to check
            self._check_options(args)
        return super().parse_args(args, namespace)

    def _check_options(self, args: list[str]) -> None:
        """Refuse an unknown ``--option`` before anything else, naming the closest real one.

argparse learnt to suggest only in Python 3.14, and there only when asked; this works from 3.11 on.
"""
        known = [flag for flag in self._option_string_actions if flag.startswith("--")]
        for arg in args:
            if arg == "--":
                return
            option = arg.split("=", 1)[0]
            if option.startswith("--") and not any(flag.startswith(option) for flag in known):
                close = difflib.get_close_matches(option[2:], [flag[2:] for flag in known], n=1, cutoff=0.7)
                self.error(f"unrecognized option {option}" + (f": did you mean --{close[0]}?" if close else ""))


def _run_parser() -> argparse.ArgumentParser:
    from pi_emotion.config import GROUPS, add_flags

    subcommands = textwrap.fill("Subcommands, each with its own --help: " + ", ".join(COMMANDS) + ".", 78)
    p = _Parser(prog="pi-emotion", add_help=False, formatter_class=argparse.RawDescriptionHelpFormatter,
                usage="pi-emotion [FILE | --source SRC] [options]\n       pi-emotion SUBCOMMAND [options]",
                description="Real-time facial emotion recognition.\n\n" + subcommands, epilog=EXAMPLES)
    general = p.add_argument_group(GROUPS["general"])
    general.add_argument("-h", "--help", action="help", help="show this help and exit")
    general.add_argument("--version", action="version", version=f"pi-emotion {__version__}")
    general.add_argument("--config", type=Path, metavar="FILE", help="TOML config file (default: "
                         "/etc/pi-emotion/config.toml if present)")
    general.add_argument("--print-config", action="store_true", help="print the effective configuration and exit")
    source = p.add_argument_group(GROUPS["source"])
    source.add_argument("file", nargs="*", metavar="FILE", help="a video file or pictures (a file, a folder, a "
                        "pattern): the same as --source FILE")
    add_flags(p, groups={"general": general, "source": source})
    return p


def _source_file(files: list[str], flags: dict[str, object]) -> str:
    """The one source named without ``--source``: a file, folder or pattern, or a one-line error naming the fix."""
    if "source" in flags:
        raise UserError(f"{files[0]}: give the source once, as FILE or as --source, not both")
    if len(files) > 1:
        raise UserError(f"{len(files)} files given, one source runs at a time: quote a pattern ('shots/*.jpg'), "
                        "give a folder, or use pi-emotion analyse FILES... for many recordings")
    spec = files[0]
    if not Path(spec).exists() and not any(c in spec for c in "*?["):
        close = difflib.get_close_matches(spec, COMMANDS, n=1)
        hint = f"did you mean pi-emotion {close[0]}?" if close else "a camera is --source 0, /dev/videoN or picamera"
        raise UserError(f"{spec}: no such file or subcommand; {hint}")
    return spec


def cmd_run(argv: list[str]) -> int:
    from pi_emotion import config

    args = vars(_run_parser().parse_args(argv))
    config_path = args.pop("config", None)
    print_config = args.pop("print_config", False)
    files = args.pop("file", [])
    if files:
        args["source"] = _source_file(files, args)
    settings = config.resolve(args, config_path)
    if print_config:
        print(config.to_toml(settings), end="")
        return 0
    from pi_emotion.integrations.systemd import setup_logging
    from pi_emotion.perception.native_log import follow_log_level
    from pi_emotion.runtime.app import run

    setup_logging(settings.log_level)
    follow_log_level(settings.log_level)

    return run(settings)


def _import_tensorflow() -> None:
    """Import TensorFlow once, up front, without the start-up chatter its C++ side prints on stderr."""
    from pi_emotion.perception.native_log import filtered_stderr

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        with filtered_stderr(lambda line: False):
            import tensorflow  # noqa: F401
    except ImportError:
        raise UserError("this command needs TensorFlow: pip install 'pi-emotion[train]'") from None


def cmd_convert(argv: list[str]) -> int:
    from pi_emotion.training.convert import INPUT_RANGES, ConvertOptions

    p = _Parser(prog="pi-emotion convert", description="Convert a Keras model to an int8 TFLite model.")
    p.add_argument("model", type=Path, help="Keras model: .keras, .h5 or legacy Keras 2 HDF5")
    p.add_argument("-o", "--output", type=Path, help="output .tflite (default: beside the model)")
    p.add_argument("--calibration", type=Path, help="FER2013 CSV or class folders for int8 calibration")
    p.add_argument("--float", dest="float_model", action="store_true", help="keep float32 weights")
    p.add_argument("--input-range", choices=tuple(INPUT_RANGES), help="pixel range the model was trained on")
    p.add_argument("--labels", help="comma-separated class names (default: FER2013's seven)")
    p.add_argument("--samples", type=int, default=300, help="calibration faces (default: 300)")
    a = p.parse_args(argv)
    _import_tensorflow()
    import contextlib
    import io

    from pi_emotion.training.convert import convert, print_report

    opts = ConvertOptions(a.model, a.output or a.model.with_suffix(".tflite"), a.calibration, a.float_model,
                          a.input_range, tuple(a.labels.split(",")) if a.labels else None, a.samples)
    with contextlib.redirect_stdout(io.StringIO()):  # the converter chatters on stdout
        report = convert(opts)
    print_report(report)
    return 0


def cmd_train(argv: list[str]) -> int:
    from pi_emotion.training import recipe

    p = _Parser(prog="pi-emotion train", description="Train the emotion network on FER2013.")
    recipe.add_flags(p)
    opts = recipe.options(p.parse_args(argv))
    _import_tensorflow()
    from pi_emotion.training.train import train

    train(opts)
    return 0


def cmd_soft_targets(argv: list[str]) -> int:
    from pi_emotion.training.teacher import main

    return main(argv, _Parser)


def cmd_explain(argv: list[str]) -> int:
    p = _Parser(prog="pi-emotion explain", description="Why each face in a picture got its label: its crop, a guided "
                "back-propagation saliency map and the class probabilities.")
    p.add_argument("picture", type=Path)
    p.add_argument("--model", type=paths.model_path, help="Keras model, with its converted .tflite and .json beside "
                   "it, or the name of a shipped one (default: the shipped models/emotion.keras)")
    p.add_argument("--label", help="explain this class (default: each face's top class)")
    p.add_argument("-o", "--output", type=Path, default=Path("explain.png"), help="PNG to write")
    a = p.parse_args(argv)
    _import_tensorflow()
    from pi_emotion.training.explain import main

    return main(a.picture, a.model or paths.shipped("emotion.keras"), a.output, a.label)


def cmd_evaluate(argv: list[str]) -> int:
    from pi_emotion.training.evaluate import main

    return main(argv, _Parser)


def cmd_bench(argv: list[str]) -> int:
    from pi_emotion.bench.cli import main

    return main(argv, _Parser)


def cmd_report(argv: list[str]) -> int:
    from pi_emotion.report.command import main

    return main(argv, _Parser)


def cmd_analyse(argv: list[str]) -> int:
    from pi_emotion import config

    p = _Parser(prog="pi-emotion analyse",
                description="Recordings and pictures through the appliance's own pipeline, into tables: faces.csv "
                            "(a row per face per frame), tracks.csv (a row per face) and files.csv (a row per file); "
                            "Parquet too when pyarrow is installed. Started again on the same folder, it redoes only "
                            "the files it had not finished.")
    p.add_argument("files", nargs="+", help="video files, pictures, folders of them, or patterns ('study/*.mp4')")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder for the tables")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="files analysed at once, one process each (default: the number of cores)")
    p.add_argument("--config", type=Path, help="TOML config file whose settings to use (detector, model, ...)")
    p.add_argument("--model", help="TFLite model, or the name of a shipped one")
    p.add_argument("--detector", help="face detector: yunet or haar")
    a = p.parse_args(argv)
    if a.jobs < 1:
        raise UserError("analyse: --jobs must be at least 1")
    flags = {key: value for key, value in (("model", a.model), ("detector", a.detector)) if value}
    settings = config.resolve(flags, a.config)
    from pi_emotion.runtime.analyse import run

    return run(a.files, a.output, settings, a.jobs)


def cmd_mqtt_forget(argv: list[str]) -> int:
    from pi_emotion import config

    p = _Parser(prog="pi-emotion mqtt-forget",
                description="Remove this appliance's device and entities from Home Assistant, and its retained "
                            "MQTT state and availability. Takes the run's config file and its MQTT options.")
    p.add_argument("--config", type=Path, metavar="FILE", help="TOML config file (default: "
                   "/etc/pi-emotion/config.toml if present)")
    config.add_flags(p, keys=(*config.keys_in("mqtt"), "model"))  # the model: the labels its entities were made for
    args = vars(p.parse_args(argv))
    settings = config.resolve(args, args.pop("config", None))
    if not settings.mqtt:
        raise UserError("mqtt-forget: no broker; give --mqtt HOST[:PORT] or set mqtt in the config file")
    from pi_emotion.integrations.mqtt.forget import run
    from pi_emotion.runtime.app import mqtt_settings

    return run(mqtt_settings(settings), paths.model_path(settings.model))


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "analyse": cmd_analyse, "report": cmd_report, "evaluate": cmd_evaluate, "bench": cmd_bench,
    "convert": cmd_convert, "train": cmd_train, "soft-targets": cmd_soft_targets, "explain": cmd_explain,
    "mqtt-forget": cmd_mqtt_forget,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = COMMANDS.get(argv[0], cmd_run) if argv else cmd_run
    rest = argv[1:] if argv and argv[0] in COMMANDS else argv
    try:
        return command(rest)
    except UserError as exc:
        print(f"pi-emotion: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
