"""What a training run does: its options, their flags, and when a run stops. No TensorFlow here.

Every piece of the recipe can be turned on or off by a flag so that each one can be
measured. The defaults are the recipe of the shipped model; the camera-robust recipe is
spelled out in the README and the model card.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from pi_emotion.errors import UserError
from pi_emotion.perception.modelmeta import FER2013_LABELS
from pi_emotion.perception.preprocess import NORMALISERS

BATCH = 64  # even, and the last short batch is dropped: TF's oneDNN path crashes on odd batches
# Sizes of the network (keyword arguments of network.build). "base" has 2.6x the weights of
# "small" and twice its multiplies: it trains 1.6x slower and still runs in well under 1 ms per face.
# "quarter" is "small" with a narrower last block, so that one pass costs at most a quarter of
# "base" run on the face and its mirror (29.13 M multiply-adds; 2 x 59.03 M / 4 = 29.52 M; "small": 29.56 M).
# "deep" spends the same budget otherwise (27.90 M): narrower early blocks, where every weight is used at many
# pixels, and a fourth block at 3x3 pixels, where weights are cheap: 3.5 times the weights of "quarter".
ARCHS: dict[str, dict] = {
    "small": {"stem": 24, "widths": (96, 192, 256)},
    "quarter": {"stem": 24, "widths": (96, 192, 240)},
    "deep": {"stem": 20, "widths": (80, 160, 288, 576)},
    "base": {"stem": 32, "widths": (128, 256, 512)},
}
OPTIMIZERS = {"adamw": 3e-3, "sgd": 1e-2}  # name: default peak learning rate
SELECT = ("clean", "camera", "mean")
# Options that say how one invocation runs, not what the run is: they may differ between resumptions.
PER_INVOCATION = ("data", "out", "resume", "reschedule", "stop_after", "time_budget")


@dataclass
class TrainOptions:
    data: Path
    out: Path
    epochs: int = 75
    lr: float = 3e-3  # peak, after the warm-up; cosine decay to 1% of it
    optimizer: str = "adamw"  # a key of OPTIMIZERS; "sgd" is SGD with Nesterov momentum 0.9
    weight_decay: float = 1e-4
    warmup: int = 2  # epochs (at most all of them)
    seed: int = 1
    arch: str = "base"  # a key of ARCHS
    size: int = 48  # input side in pixels: the appliance crops faces to it; the cost per face grows with its square
    classes: tuple[str, ...] = FER2013_LABELS
    label_smoothing: float = 0.1  # FER2013 labels are noisy: do not push the network to be certain of them
    dropout: float = 0.3  # before the output layer; a small student learning soft targets may need less
    class_weights: bool = True
    # augmentation; geometry matches how the detector's crop varies
    rotate: float = 18.0  # degrees, either way
    zoom: float = 0.1  # fraction, either way
    shift: float = 0.1  # fraction of the side, either way: a random crop of the reflect-padded face
    camera: float = 0.0  # fraction of faces put through camera conditions (dim, small, noisy, JPEG)
    erase: float = 0.0  # fraction of faces with a random rectangle erased
    turn: float = 0.0  # fraction of faces warped as if turned a little to one side
    mixup: float = 0.0  # alpha of the Beta distribution of mixup; 0: none
    normalise: str = "none"  # per-crop preprocessing, a key of preprocess.NORMALISERS, recorded in the metadata
    # weights
    ema: float = 0.0  # decay of the weight average that is validated, saved and converted; 0: none
    teacher: Path | None = None  # soft targets from `pi-emotion soft-targets`
    teacher_weight: float = 0.5  # share of the teacher's probabilities in the target
    init: Path | None = None  # start from these weights with a fresh schedule
    patience: int = 15  # stop after this many epochs without a better checkpoint; 0: never
    select: str = "clean"  # checkpoint chosen on PublicTest "clean", its camera-condition copy, or their "mean"
    limit: int = 0  # use only the first N training images (smoke tests)
    # per invocation
    resume: bool = False
    reschedule: bool = False  # with resume: the run's length becomes ``epochs``
    stop_after: int = 0  # pause after this many epochs in this invocation; 0: run to the end
    time_budget: float = 0.0  # minutes: pause when the next epoch would end after this; 0: no limit

    def identity(self) -> dict:
        """The options that define the run, as JSON-ready values (compared when resuming)."""
        d = asdict(self)
        for key in PER_INVOCATION:
            d.pop(key)
        return json.loads(json.dumps(d, default=str))


def add_flags(p: argparse.ArgumentParser) -> None:
    d = TrainOptions(Path(), Path())
    p.add_argument("--data", type=Path, required=True, help="FER2013 CSV (.csv or .csv.gz) or train/ test/ folders")
    p.add_argument("--out", type=Path, required=True, help="run folder: checkpoint, logs, model.keras/.h5/.json")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"length of the cosine schedule (default {d.epochs})")
    p.add_argument("--lr", type=float, help="peak learning rate (default 3e-3 with adamw, 1e-2 with sgd)")
    p.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default=d.optimizer,
                   help="adamw, or sgd (Nesterov momentum 0.9)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--warmup", type=int, default=d.warmup, help="epochs of linear warm-up")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--arch", choices=tuple(ARCHS), default=d.arch, help="network size (default: base)")
    p.add_argument("--size", type=int, default=d.size,
                   help=f"input side in pixels (default {d.size}): faces are resized to it, and the cost per face "
                   "grows with its square")
    p.add_argument("--classes", help="comma-separated subset of the FER2013 classes, e.g. happy,sad,angry,surprise,"
                   "neutral (default: all seven)")
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    p.add_argument("--dropout", type=float, default=d.dropout, help=f"dropout before the output layer "
                   f"(default {d.dropout})")
    p.add_argument("--no-class-weights", dest="class_weights", action="store_false",
                   help="do not weight rare classes up")
    p.add_argument("--rotate", type=float, default=d.rotate, help="rotation jitter, degrees")
    p.add_argument("--zoom", type=float, default=d.zoom, help="scale jitter, fraction")
    p.add_argument("--shift", type=float, default=d.shift, help="random crop: shift jitter, fraction of the side")
    p.add_argument("--camera", type=float, default=d.camera,
                   help="fraction of faces made dim, flat, small, blurred, noisy and JPEG-compressed")
    p.add_argument("--erase", type=float, default=d.erase, help="fraction of faces with a random rectangle erased")
    p.add_argument("--turn", type=float, default=d.turn,
                   help="fraction of faces warped as if turned a little to one side")
    p.add_argument("--mixup", type=float, default=d.mixup, help="mixup alpha (0: off; 0.2 is usual)")
    p.add_argument("--normalise", choices=tuple(NORMALISERS), default=d.normalise,
                   help="per-crop preprocessing, applied the same way by the appliance")
    p.add_argument("--ema", type=float, default=d.ema, help="weight-average decay per step, e.g. 0.999 (0: off)")
    p.add_argument("--teacher", type=Path, help="soft targets made by 'pi-emotion soft-targets'")
    p.add_argument("--teacher-weight", type=float, default=d.teacher_weight)
    p.add_argument("--init", type=Path, help="start from this model's weights (a .keras or .h5 file); "
                   "from a wider network of the same shape, its strongest channels")
    p.add_argument("--patience", type=int, default=d.patience, help="early stop after N epochs without gain (0: off)")
    p.add_argument("--select", choices=SELECT, default=d.select,
                   help="choose the checkpoint on PublicTest as it is, its camera-condition copy, or their mean")
    p.add_argument("--limit", type=int, default=0, help="use only the first N training images")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out exactly where it stopped (starts one if there is none)")
    p.add_argument("--reschedule", action="store_true",
                   help="with --resume: lengthen or shorten the run to --epochs; the learning rate follows the new "
                   "schedule from the next epoch")
    p.add_argument("--stop-after", type=int, default=0, help="pause after N epochs (continue with --resume)")
    p.add_argument("--time-budget", type=float, default=0.0,
                   help="minutes: pause before an epoch that would end later than this (continue with --resume)")


def options(a: argparse.Namespace) -> TrainOptions:
    """Options from parsed flags, checked."""
    values = dict(vars(a))
    values["lr"] = a.lr if a.lr is not None else OPTIMIZERS[a.optimizer]
    values["classes"] = tuple(c.strip() for c in a.classes.split(",")) if a.classes else FER2013_LABELS
    opts = TrainOptions(**values)
    check(opts)
    return opts


def check(o: TrainOptions) -> None:
    unknown = [c for c in o.classes if c not in FER2013_LABELS]
    if unknown or len(set(o.classes)) != len(o.classes) or len(o.classes) < 2:
        raise UserError(f"--classes: give two or more of {','.join(FER2013_LABELS)}, not {','.join(o.classes)}")
    for name, value, lo, hi in (("epochs", o.epochs, 1, 10000), ("lr", o.lr, 1e-6, 1.0),
                                ("weight-decay", o.weight_decay, 0, 1), ("warmup", o.warmup, 0, 1000),
                                ("label-smoothing", o.label_smoothing, 0, 0.5),
                                ("dropout", o.dropout, 0, 0.9), ("rotate", o.rotate, 0, 45),
                                ("zoom", o.zoom, 0, 0.5), ("shift", o.shift, 0, 0.3), ("camera", o.camera, 0, 1),
                                ("erase", o.erase, 0, 1), ("turn", o.turn, 0, 1), ("mixup", o.mixup, 0, 10),
                                ("ema", o.ema, 0, 0.99999), ("size", o.size, 16, 96),
                                ("teacher-weight", o.teacher_weight, 0, 1), ("patience", o.patience, 0, 10000),
                                ("limit", o.limit, 0, 10**9), ("stop-after", o.stop_after, 0, 10**6),
                                ("time-budget", o.time_budget, 0, 10**6)):
        if not lo <= value <= hi:
            raise UserError(f"--{name} must lie in {lo}..{hi}, not {value}")
    if 0 < o.ema < 0.9:
        raise UserError(f"--ema is a decay per step such as 0.999 (0 turns it off), not {o.ema}")
    for name, path in (("teacher", o.teacher), ("init", o.init), ("data", o.data)):
        if path is not None and not path.exists():
            raise UserError(f"--{name} {path} does not exist")


def should_pause(o: TrainOptions, epochs_here: int, elapsed: float, last_epoch: float) -> bool:
    """After an epoch: stop this invocation (the run goes on with --resume) for --stop-after or --time-budget.

    ``elapsed`` and ``last_epoch`` are seconds: the time since this invocation started and the
    last epoch's duration, which predicts the next one's.
    """
    if o.stop_after and epochs_here >= o.stop_after:
        return True
    return bool(o.time_budget) and elapsed + last_epoch > o.time_budget * 60
