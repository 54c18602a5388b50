"""Running on still pictures: each picture once through the pipeline, a line of results for each.

``--output`` is then a picture file (for one picture) or a folder that gets an annotated copy
of each; ``--events`` gets one line per picture, naming it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import cv2

from pi_emotion.config import Settings
from pi_emotion.errors import UserError
from pi_emotion.outputs import Output
from pi_emotion.paths import IMAGE_SUFFIXES
from pi_emotion.perception.annotate import annotate
from pi_emotion.results.frame import FrameResult
from pi_emotion.runtime import privacy
from pi_emotion.runtime.pipeline import Pipeline
from pi_emotion.sources.pictures import picture_paths, read_pictures

log = logging.getLogger(__name__)


def describe(result: FrameResult) -> str:
    """``name: 2 faces: happy 87% at 120,40 90x90; ...``"""
    faces = "; ".join(f"{f.emotion} {f.score:.0%} at {f.box[0]},{f.box[1]} {f.box[2]}x{f.box[3]}" for f in result.faces)
    count = f"{len(result.faces)} face{'' if len(result.faces) == 1 else 's'}"
    return f"{result.picture}: {count}" + (f": {faces}" if faces else "")


def _destination(output: str, spec: str) -> Callable[[Path], Path] | None:
    """Where each picture's annotated copy goes: the one picture file named, or a folder (made if missing)."""
    if not output:
        return None
    target = Path(output)
    if target.suffix.lower() in IMAGE_SUFFIXES and not target.is_dir():
        count = len(picture_paths(spec))
        if count > 1:
            raise UserError(f"--output {target}: {count} pictures need a folder for their annotated copies")
        if not target.parent.is_dir():
            raise UserError(f"--output {target}: folder {target.parent} does not exist")
        return lambda path: target
    if (target.exists() and not target.is_dir()) or (target.suffix and not target.exists()):
        raise UserError(f"--output {target}: for pictures, give a picture file "
                        f"({', '.join(sorted(IMAGE_SUFFIXES))}) or a folder")
    target.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    return lambda path: target / copy_name(path, taken)


def copy_name(path: Path, taken: set[str]) -> str:
    """The annotated copy's name: the picture's own (``a.jpg`` and ``a.png`` stay apart), made unique in the run.

    Grey-only ``.pgm`` cannot hold the coloured boxes, so its copy is a ``.png``; two pictures of one name from
    different folders become ``a.jpg`` and ``a-2.jpg``.
    """
    stem, suffix = path.stem, path.suffix
    if suffix.lower() == ".pgm":
        stem, suffix = path.name, ".png"
    name, n = stem + suffix, 2
    while name in taken:
        name, n = f"{stem}-{n}{suffix}", n + 1
    taken.add(name)
    return name


def run_pictures(settings: Settings, pipeline: Pipeline, open_events: Callable[[], Output]) -> int:
    """Each picture of ``settings.source``; 0 when every picture could be read, 1 when some could not.

    ``open_events`` opens ``--events`` with the run's rotation, mode and run line, as for video.
    """
    if privacy.aggregates_only(settings):
        raise UserError("--privacy aggregate: still pictures are scored one by one, face by face; "
                        "aggregates-only is for cameras and videos")
    copy_to = _destination(settings.output, settings.source)
    events = open_events() if settings.events else None
    unreadable = 0
    try:
        for path, frame in read_pictures(settings.source):
            if frame is None:
                unreadable += 1
                log.error("%s is not a readable picture; skipped", path)
                continue
            result = pipeline.analyse(frame, picture=True)
            result.picture = str(path)
            print(describe(result), flush=True)
            if events is not None:
                events.write(None, result)
            if copy_to is not None:
                picture = annotate(frame.image, result, blur_faces=settings.blur_faces, notice=settings.notice)
                copy = copy_to(path)
                if not cv2.imwrite(str(copy), picture):
                    raise UserError(f"--output {copy} cannot be written")
    finally:
        if events is not None:
            events.close()
    return 1 if unreadable else 0
