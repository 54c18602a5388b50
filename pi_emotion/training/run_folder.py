"""A training run's folder: one rolling checkpoint, the run's options, its history, and a lock.

The checkpoint holds everything an exact resumption needs (network variables including
the dropout generators' state, optimizer variables with its step count, the weight
average, the epoch and the history) in one ``.npz`` file that is replaced atomically
after every epoch, so an interruption at any moment leaves the last finished epoch.
Augmentation needs no saved state: each epoch's is drawn from ``(seed, epoch)``.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np

from pi_emotion.errors import UserError

CHECKPOINT = "checkpoint.npz"
OPTIONS = "options.json"
HISTORY = "history.csv"
LOG = "train.log"
BEST = "best.weights.h5"  # the selected epoch's (averaged) weights
LOCK = ".lock"


@dataclass
class State:
    """Where a run stands, saved with its checkpoint."""

    epoch: int = 0  # epochs finished
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = -1.0
    ema_updates: int = 0
    finished: bool = False
    data_fingerprint: str = ""


@dataclass
class Checkpoint:
    state: State
    arrays: dict[str, list[np.ndarray]]  # "model", "optimizer", "ema": lists in a fixed order


class RunFolder:
    """Opens ``path`` for one training process at a time (a second one gets a clear error)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self._lock: IO | None = (path / LOCK).open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise UserError(f"another training process is using {path}; wait for it or stop it first") from None

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()  # releases the lock
            self._lock = None

    def has_checkpoint(self) -> bool:
        return (self.path / CHECKPOINT).exists()

    def save(self, ckpt: Checkpoint) -> None:
        """Write the checkpoint beside the old one, then swap it in; then the history from it."""
        tmp = self.path / (CHECKPOINT + ".tmp")
        arrays = {f"{group}/{i}": a for group, values in ckpt.arrays.items() for i, a in enumerate(values)}
        with tmp.open("wb") as fh:
            np.savez(fh, state=np.array(json.dumps(ckpt.state.__dict__)), **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path / CHECKPOINT)
        self._write_history(ckpt.state.history)

    def load(self) -> Checkpoint:
        path = self.path / CHECKPOINT
        try:
            with np.load(path) as npz:
                state = State(**json.loads(str(npz["state"])))
                arrays: dict[str, list[np.ndarray]] = {}
                for key in sorted((k for k in npz.files if k != "state"), key=lambda k: (k.split("/")[0],
                                                                                        int(k.split("/")[1]))):
                    arrays.setdefault(key.split("/")[0], []).append(npz[key])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UserError(f"checkpoint {path} is unreadable ({exc}); move it away to start the run again") from None
        return Checkpoint(state, arrays)

    def write_options(self, identity: dict) -> None:
        """Write the run's options beside the old file, then swap them in: never half a record."""
        tmp = self.path / (OPTIONS + ".tmp")
        tmp.write_text(json.dumps(identity, indent=2) + "\n")
        os.replace(tmp, self.path / OPTIONS)

    def check_options(self, identity: dict, defaults: dict, reschedule: bool = False) -> int | None:
        """A resumed run must be the same run: same recipe, network, seed and length.

        With ``reschedule`` only, its length may change (a longer or shorter schedule from
        the next epoch on): the new number of epochs is returned, or None when it is the same.
        An option missing from the run's record came after the run started, which ran
        with its default (``defaults``): the run's own record is never rewritten for it.
        """
        path = self.path / OPTIONS
        try:
            saved = {**defaults, **json.loads(path.read_text())}
        except (OSError, ValueError, TypeError):  # TypeError: JSON, but not an object
            raise UserError(f"{path} is missing or unreadable; cannot tell how this run was started") from None
        differ = [k for k in sorted(set(saved) | set(identity))
                  if saved.get(k) != identity.get(k) and not (reschedule and k == "epochs")]
        if differ:
            said = ", ".join(f"{k} {saved.get(k)} (now {identity.get(k)})" for k in differ)
            hint = " (add --reschedule to change only its length)" if differ == ["epochs"] else ""
            raise UserError(f"{self.path} was started with other options: {said}; resume with the same options "
                            f"or use another --out{hint}")
        return identity["epochs"] if saved.get("epochs") != identity["epochs"] else None

    def change_length(self, epochs: int) -> None:
        """Record a new schedule length in the run's options, so the next resume compares against it."""
        path = self.path / OPTIONS
        saved = json.loads(path.read_text())
        saved["epochs"] = epochs
        self.write_options(saved)

    def log(self, line: str) -> None:
        print(line, flush=True)
        with (self.path / LOG).open("a") as fh:
            fh.write(line + "\n")

    def _write_history(self, history: list[dict]) -> None:
        if not history:
            return
        tmp = self.path / (HISTORY + ".tmp")
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(history[0]))
            writer.writeheader()
            writer.writerows(history)
        os.replace(tmp, self.path / HISTORY)
