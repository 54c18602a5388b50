"""``pi-emotion analyse FILES... -o DIR``: recordings and pictures in, tidy tables out.

Each file goes through the appliance's own pipeline (the same detector, crop, model, tracker
and evidence as live, frame by frame), in parallel over ``--jobs`` processes; each file's
result is written to ``DIR/parts/`` as soon as it is done (atomically), so a batch that is
interrupted and started again redoes only the files it had not finished. The tables are then
assembled in the order the files were given, so ``--jobs`` never changes them:

- ``faces.csv``: a row per face per processed frame (file, frame, media time, track, box,
  shown emotion, score, one probability column per label);
- ``tracks.csv``: a row per face track (first and last time, duration, frames, dominant
  emotion, share of each label and of ``uncertain``);
- ``files.csv``: a row per file (length, frames, face-frames, tracks, shares).

Parquet copies are written as well when ``pyarrow`` is installed.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import logging
import os
import sys
from collections import Counter, defaultdict
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict
from pathlib import Path

from pi_emotion import __version__
from pi_emotion.config import Settings
from pi_emotion.errors import UserError
from pi_emotion.paths import IMAGE_SUFFIXES
from pi_emotion.results.aggregate import dominant_named
from pi_emotion.results.frame import UNCERTAIN

log = logging.getLogger(__name__)
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv"}
PARTS = "parts"


def expand(inputs: list[str]) -> list[Path]:
    """Files, folders (their videos and pictures, sorted) and patterns, in the order given, each once."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
                            | IMAGE_SUFFIXES)
        elif any(c in item for c in "*?["):
            found += sorted(Path(p) for p in glob.glob(item) if Path(p).is_file())
        else:
            found.append(path)
    seen: set[Path] = set()
    return [p for p in found if not (p.resolve() in seen or seen.add(p.resolve()))]


def part_name(path: Path, settings: Settings) -> str:
    """A finished file's result is found again only for the same file (size, time) and the same settings."""
    stat = path.stat()
    key = json.dumps([str(path.resolve()), stat.st_size, stat.st_mtime_ns, asdict(settings), __version__],
                     sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:24] + ".json"


_built: dict = {}  # per process: the detector and classifier, loaded once


def _parts(settings: Settings):
    from pi_emotion.runtime.app import build_classifier, build_detector

    key = repr(settings)
    if key not in _built:
        _built.clear()
        _built[key] = (build_detector(settings), build_classifier(settings))
    return _built[key]


def analyse_file(path: Path, settings: Settings, out: Path, progress=None) -> dict:
    """One file through the pipeline; its result is written to ``out`` (atomically) and summarised."""
    import cv2

    from pi_emotion.runtime.app import build_pipeline
    from pi_emotion.sources.base import Frame
    from pi_emotion.sources.video import VideoFileSource

    detector, classifier = _parts(settings)
    labels = list(classifier.labels)
    rows: list[list] = []
    frames = 0
    length = 0.0
    picture = path.suffix.lower() in IMAGE_SUFFIXES
    pipeline = build_pipeline(settings, None, detector, classifier, [])
    if picture:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise UserError(f"{path}: not a readable picture")
        results = [pipeline.analyse(Frame(0, 0.0, image, cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)), picture=True)]
        frames = 1
    else:
        source = VideoFileSource(path)
        results = []
        try:
            while (frame := source.read()) is not None:
                results.append(pipeline.analyse(frame))
                frames += 1
                if progress is not None:
                    progress(1)
        finally:
            source.close()
        length = frames / source.fps if source.fps else 0.0
        if frames == 0:
            raise UserError(f"{path}: no frames could be decoded")
    for r in results:
        for f in r.faces:
            rows.append([r.frame, round(r.t, 4), f.track, *f.box, f.emotion, round(f.score, 4),
                         *(round(f.scores.get(label, 0.0), 4) for label in labels)])
    part = {"file": str(path), "frames": frames, "length_s": round(length, 3), "labels": labels, "faces": rows}
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(part, separators=(",", ":")))
    os.replace(tmp, out)
    return {"file": str(path), "frames": frames, "faces": len(rows)}


def _count_frames(path: Path) -> int:
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return 1
    import cv2

    video = cv2.VideoCapture(str(path))
    count = int(video.get(cv2.CAP_PROP_FRAME_COUNT)) if video.isOpened() else 0
    video.release()
    return max(count, 0)


def _job(path: Path, settings: Settings, out: Path, queue) -> dict:
    """In a worker process: ``analyse_file``, telling the parent how many frames are done as it goes."""
    import cv2

    cv2.setNumThreads(1)  # the processes are the parallelism
    pending = [0]

    def progress(n: int) -> None:
        pending[0] += n
        if pending[0] >= 25:
            queue.put(pending[0])
            pending[0] = 0

    try:
        return analyse_file(path, settings, out, progress)
    finally:
        if pending[0]:
            queue.put(pending[0])


def run(inputs: list[str], out: Path, settings: Settings, jobs: int) -> int:
    """Every file through the pipeline, the tables written; 0 when every file was read, 1 when some were not."""
    files = expand(inputs)
    if not files:
        raise UserError("analyse: no files (give video files, pictures, folders or patterns)")
    try:
        (out / PARTS).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"analyse: {out} cannot be made ({exc.strerror})") from None
    missing = [p for p in files if not p.is_file()]
    for p in missing:
        print(f"analyse: {p}: not found; skipped", file=sys.stderr)
    files = [p for p in files if p.is_file()]
    parts = {p: out / PARTS / part_name(p, settings) for p in files}
    todo = [p for p in files if not parts[p].exists()]
    if len(todo) < len(files):
        print(f"analyse: {len(files) - len(todo)} of {len(files)} file(s) already done in {out}; going on")
    failed = _process(todo, parts, settings, jobs)
    done = [p for p in files if parts[p].exists()]
    written = write_tables(out, [json.loads(parts[p].read_text()) for p in done])
    print(f"analyse: {len(done)} file(s) -> " + ", ".join(str(w) for w in written))
    return 1 if failed or missing else 0


def _process(todo: list[Path], parts: dict[Path, Path], settings: Settings, jobs: int) -> int:
    from pi_emotion.runtime.progress import bar

    failed = 0
    total = sum(_count_frames(p) for p in todo)
    with bar(total, "frames", len(todo) > 0) as progress:
        if jobs <= 1:
            for path in todo:
                failed += _report(path, lambda p=path: analyse_file(p, settings, parts[p], progress.update), progress)
            return failed
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # no OpenCV or runtime threads inherited half-way
        with context.Manager() as manager, ProcessPoolExecutor(jobs, mp_context=context) as pool:
            queue = manager.Queue()
            futures = {pool.submit(_job, p, settings, parts[p], queue): p for p in todo}
            remaining = set(futures)
            while remaining:  # progress from the workers' frames, a line as each file finishes
                finished, remaining = wait(remaining, timeout=0.5, return_when=FIRST_COMPLETED)
                while not queue.empty():
                    progress.update(queue.get())
                for future in finished:
                    failed += _report(futures[future], future.result, progress)
    return failed


def _report(path: Path, work, progress) -> int:
    """Run ``work`` for ``path``; 1 (and a line on stderr) when the file could not be read, else 0."""
    try:
        summary = work()
    except UserError as exc:
        progress.write(f"analyse: {exc}; skipped", file=sys.stderr)
        return 1
    except Exception as exc:  # one bad file must not cost the batch
        progress.write(f"analyse: {path}: failed ({type(exc).__name__}: {exc}); skipped", file=sys.stderr)
        return 1
    progress.write(f"analyse: {path}: {summary['frames']} frame(s), {summary['faces']} face(s)")
    return 0


def write_tables(out: Path, parts: list[dict]) -> list[Path]:
    labels = parts[0]["labels"] if parts else []
    shown = [*labels, UNCERTAIN]
    face_columns = ["file", "frame", "t", "track", "x", "y", "w", "h", "emotion", "score",
                    *(f"p_{label}" for label in labels)]
    share_columns = [f"share_{label}" for label in shown]
    tables = {"faces.csv": (face_columns, []),
              "tracks.csv": (["file", "track", "first_t", "last_t", "duration_s", "frames", "dominant_emotion",
                              *share_columns], []),
              "files.csv": (["file", "length_s", "frames", "face_frames", "tracks", "dominant_emotion",
                             *share_columns], [])}
    for part in parts:
        name = part["file"]
        by_track: dict[int, list] = defaultdict(list)
        for row in part["faces"]:
            tables["faces.csv"][1].append([name, *row])
            by_track[row[2]].append(row)
        for track, rows in by_track.items():
            counts = Counter(r[7] for r in rows)
            tables["tracks.csv"][1].append([name, track, rows[0][1], rows[-1][1], round(rows[-1][1] - rows[0][1], 4),
                                            len(rows), dominant_named(counts, labels) or "", *_shares(counts, shown)])
        counts = Counter(r[7] for r in part["faces"])
        tables["files.csv"][1].append([name, part["length_s"], part["frames"], len(part["faces"]), len(by_track),
                                       dominant_named(counts, labels) or "", *_shares(counts, shown)])
    written = []
    for filename, (columns, rows) in tables.items():
        path = out / filename
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            writer.writerows(rows)
        written.append(path)
    written += _parquet(written)
    return written


def _shares(counts: Counter, shown: list[str]) -> list[float]:
    total = sum(counts.values())
    return [round(counts[label] / total, 4) if total else 0.0 for label in shown]


def _parquet(csvs: list[Path]) -> list[Path]:
    try:
        from pyarrow import csv as pa_csv
        from pyarrow import parquet
    except ImportError:
        return []
    out = []
    for path in csvs:
        target = path.with_suffix(".parquet")
        parquet.write_table(pa_csv.read_csv(path), target)
        out.append(target)
    return out
