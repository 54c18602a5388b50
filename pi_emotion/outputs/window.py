"""A desktop window (a GUI build of OpenCV), with the keys of the live-video tools people know.

``q`` or Esc stops the run (outputs are closed as at any end), space pauses and resumes, ``s``
saves the frame on screen as a PNG with its faces as JSON beside it. The window has its own
thread, which owns every HighGUI call, so keys work while the loop is paused.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pi_emotion.errors import UserError
from pi_emotion.results.frame import FrameResult

log = logging.getLogger(__name__)
QUIT = (ord("q"), 27)  # q, Esc
PAUSE = ord(" ")
SAVE = ord("s")
POLL_MS = 20


def has_gui() -> bool:
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GUI:"):
            return line.split(":", 1)[1].strip().upper() not in ("NONE", "")
    return False


class WindowDisplay:
    """Shows the newest annotated frame; ``stop`` and ``pause`` are the run's own controls."""

    needs_image = True
    TITLE = "pi-emotion"

    def __init__(self, stop: threading.Event, pause: threading.Event, folder: Path = Path("."),
                 gui: Any = cv2, clock=time.time) -> None:
        if gui is cv2 and not has_gui():
            raise UserError("--display window needs OpenCV with GUI support: pip uninstall "
                            "opencv-python-headless && pip install opencv-python (or use --display fb / --stream)")
        self.stop, self.pause = stop, pause
        self.folder = folder
        self.saved: list[Path] = []
        self._gui, self._clock = gui, clock
        self._cond = threading.Condition()
        self._latest: tuple[np.ndarray, FrameResult] | None = None
        self._fresh = False
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="window", daemon=True)
        self._thread.start()

    def write(self, image: np.ndarray | None, result: FrameResult) -> None:
        with self._cond:
            self._latest, self._fresh = (image, result), True

    def _run(self) -> None:
        shown: tuple[np.ndarray, FrameResult] | None = None
        while True:
            with self._cond:
                if self._closing:
                    break
                item, self._fresh = (self._latest if self._fresh else None), False
            if item is not None:
                self._gui.imshow(self.TITLE, item[0])
                shown = item
            key = self._gui.waitKey(POLL_MS)
            if key != -1:
                self.press(key & 0xFF, shown)
        self._gui.destroyAllWindows()

    def press(self, key: int, shown: tuple[np.ndarray, FrameResult] | None) -> None:
        if key in QUIT:
            self.stop.set()
        elif key == PAUSE:
            if self.pause.is_set():
                self.pause.clear()
            else:
                self.pause.set()
        elif key == SAVE and shown is not None:
            self._save(*shown)

    def _save(self, image: np.ndarray, result: FrameResult) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self._clock()))
        base = self.folder / f"pi-emotion-{stamp}-{result.frame:06d}"
        if not cv2.imwrite(str(base.with_suffix(".png")), image):
            log.error("could not save %s", base.with_suffix(".png"))
            return
        base.with_suffix(".json").write_text(json.dumps(result.to_json(), indent=1) + "\n")
        self.saved.append(base.with_suffix(".png"))
        log.info("saved %s and its faces", base.with_suffix(".png"))

    def close(self) -> None:
        with self._cond:
            self._closing = True
        self._thread.join(5)
