"""How many of the faces a person sees each detector finds, and at what cost, on videos with ground truth.

A sample's ground truth (``NAME.faces.json`` beside ``NAME.mp4``, written by the script that
made the sample) lists the faces each frame shows. The real pipeline runs over every frame;
a shown face counts as found when a box of that frame overlaps it by ``MATCH_IOU``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from pi_emotion.bench.pipeline import Sink
from pi_emotion.errors import UserError
from pi_emotion.results.boxes import iou
from pi_emotion.results.frame import FrameResult
from pi_emotion.runtime.stats import RunStats

MATCH_IOU = 0.3


def truth_of(video: Path) -> list[list[tuple[int, int, int, int]]]:
    path = video.with_suffix(".faces.json")
    try:
        frames = json.loads(path.read_text())["frames"]
    except FileNotFoundError:
        raise UserError(f"{video}: no ground truth beside it ({path.name}); the detection table needs one") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: not a faces file ({exc})") from None
    return [[tuple(box[:4]) for box in boxes] for boxes in frames]  # a fifth field, where present, says who


def matched(truth: list[tuple], boxes: list[tuple]) -> int:
    """Shown faces that a box found, each box used once, best overlaps first."""
    pairs = sorted(((iou(t, b), ti, bi) for ti, t in enumerate(truth) for bi, b in enumerate(boxes)), reverse=True)
    used_t, used_b = set(), set()
    for overlap, ti, bi in pairs:
        if overlap < MATCH_IOU:
            break
        if ti not in used_t and bi not in used_b:
            used_t.add(ti)
            used_b.add(bi)
    return len(used_t)


def run_clip(settings, video: Path) -> tuple[list[FrameResult], RunStats, float, float]:
    """The real pipeline over every frame of ``video``: its results, statistics, CPU and wall seconds."""
    from pi_emotion.runtime.app import build_classifier, build_detector, build_pipeline
    from pi_emotion.sources import open_source
    from pi_emotion.sources.base import SourceSettings

    source = open_source(SourceSettings(str(video)))
    results: list[FrameResult] = []
    pipeline = build_pipeline(settings, source, build_detector(settings), build_classifier(settings), [Sink()])
    pipeline.hooks.append(lambda result, stats: results.append(result))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    stats = pipeline.run()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    source.close()
    return results, stats, cpu, wall


def detection_row(settings, video: Path) -> dict:
    """One detector on one video: faces found against the ground truth, CPU and stage times."""
    truth = truth_of(video)
    results, stats, cpu, wall = run_clip(settings, video)
    shown = found_frames = faces_shown = faces_found = false_boxes = 0
    for result in results:
        expected = truth[result.frame] if result.frame < len(truth) else []
        boxes = [f.box for f in result.faces]
        hits = matched(expected, boxes)
        shown += bool(expected)
        found_frames += bool(expected) and hits > 0
        faces_shown += len(expected)
        faces_found += hits
        false_boxes += len(boxes) - hits
    n = max(len(results), 1)
    return {"video": video.name, "detector": settings.detector, "detect_width": settings.detect_width,
            "detect_every": settings.detect_every, "frames": len(results),
            "frames_with_face_found": round(found_frames / max(shown, 1), 4),
            "faces_found": round(faces_found / max(faces_shown, 1), 4),
            "faces_shown_per_frame": round(faces_shown / n, 2), "false_boxes_per_frame": round(false_boxes / n, 3),
            "cpu_ms_per_frame": round(1000 * cpu / n, 2), "fps": round(len(results) / wall, 1),
            "stage_ms": {k: round(v["mean_ms"], 2) for k, v in stats.stages.summary().items()}}


def format_rows(rows: list[dict]) -> str:
    head = (f"{'video':<12}{'detector':<9}{'every':>6}{'frames found':>14}{'faces found':>13}{'shown/frame':>13}"
            f"{'false/frame':>13}{'CPU ms/frame':>14}{'detect ms':>11}")
    lines = [head]
    for r in rows:
        lines.append(f"{r['video']:<12}{r['detector']:<9}{r['detect_every']:>6}{r['frames_with_face_found']:>14.1%}"
                     f"{r['faces_found']:>13.1%}{r['faces_shown_per_frame']:>13.2f}{r['false_boxes_per_frame']:>13.3f}"
                     f"{r['cpu_ms_per_frame']:>14.2f}{r['stage_ms'].get('detect', 0):>11.2f}")
    return "\n".join(lines)
