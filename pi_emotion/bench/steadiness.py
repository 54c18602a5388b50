"""What a person watching notices: boxes that jump, labels that flicker, ids handed across a cut, false boxes.

Measured on clips with ground truth (``NAME.faces.json``, written by the script that made the
clip; where it names who each face is and where the cuts fall, the identity measures are
made too). Each clip runs twice through the real pipeline: with the settings given, and
detecting every frame, the reference for how much a box should move.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections import defaultdict
from pathlib import Path

from pi_emotion.bench.detection import MATCH_IOU, matched, run_clip, truth_of
from pi_emotion.results.boxes import iou
from pi_emotion.results.frame import UNCERTAIN, FrameResult

STILL = 0.5  # pixels: a smaller horizontal step is no direction at all


def identities(video: Path) -> tuple[list[list[tuple]], list[int]]:
    """Per frame, (box, who) of each face, and the cut frames; empty where the clip does not say."""
    data = json.loads(video.with_suffix(".faces.json").read_text())
    frames = [[(tuple(f[:4]), f[4]) for f in faces if len(f) > 4] for faces in data["frames"]]
    return frames, list(data.get("cuts", []))


def motion(results: list[FrameResult]) -> dict:
    """Median box-centre movement per frame in face widths, and direction reversals per 100 steps."""
    last: dict[int, tuple] = {}
    steps, dxs = [], defaultdict(list)
    for r in results:
        for f in r.faces:
            x, y, w, h = f.box
            centre = (x + w / 2, y + h / 2)
            if f.track in last and last[f.track][0] == r.frame - 1:
                _, (px, py) = last[f.track]
                steps.append(((centre[0] - px) ** 2 + (centre[1] - py) ** 2) ** 0.5 / w)
                if abs(centre[0] - px) >= STILL:
                    dxs[f.track].append(centre[0] - px)
            last[f.track] = (r.frame, centre)
    moves = sum(len(d) - 1 for d in dxs.values() if len(d) > 1)
    reversals = sum(sum(a * b < 0 for a, b in zip(d, d[1:])) for d in dxs.values())
    return {"movement": statistics.median(steps) if steps else 0.0,
            "reversals_per_100": 100 * reversals / moves if moves else 0.0}


def labels(results: list[FrameResult], fps: float) -> dict:
    """Shown-label changes per face-second and the share of face-frames shown as 'uncertain'."""
    last: dict[int, str] = {}
    changes = face_frames = uncertain = 0
    for r in results:
        for f in r.faces:
            face_frames += 1
            uncertain += f.emotion == UNCERTAIN
            changes += f.track in last and last[f.track] != f.emotion
            last[f.track] = f.emotion
    seconds = face_frames / fps
    return {"changes_per_face_s": changes / seconds if seconds else 0.0,
            "uncertain": uncertain / face_frames if face_frames else 0.0}


def identity(results: list[FrameResult], who: list[list[tuple]], cuts: list[int]) -> dict:
    """Ids carried across a cut, and ids that covered more than one person."""
    people: dict[int, set] = defaultdict(set)
    frames_of: dict[int, list[int]] = defaultdict(list)
    for r in results:
        truth = who[r.frame] if r.frame < len(who) else []
        for f in r.faces:
            frames_of[f.track].append(r.frame)
            best = max(truth, key=lambda t: iou(t[0], f.box), default=None)
            if best is not None and iou(best[0], f.box) >= MATCH_IOU:
                people[f.track].add(best[1])
    across = sum(any(fr < c for fr in frames) and any(fr >= c for fr in frames)
                 for c in cuts for frames in frames_of.values())
    return {"ids_across_cuts": across, "ids_with_two_people": sum(len(p) > 1 for p in people.values())}


def steadiness_row(settings, video: Path) -> dict:
    truth = truth_of(video)
    who, cuts = identities(video)
    results, stats, cpu, wall = run_clip(settings, video)
    reference, *_ = run_clip(dataclasses.replace(settings, detect_every=1), video)
    fps = json.loads(video.with_suffix(".faces.json").read_text()).get("fps", 30)
    n = max(len(results), 1)
    found = sum(matched(truth[r.frame], [f.box for f in r.faces]) for r in results if r.frame < len(truth))
    shown = sum(len(truth[r.frame]) for r in results if r.frame < len(truth))
    false = sum(len(r.faces) for r in results) - found
    row = {"video": video.name, "detect_every": settings.detect_every, "frames": len(results),
           **motion(results), "reference_movement": motion(reference)["movement"], **labels(results, fps),
           "faces_found": found / max(shown, 1), "false_boxes_per_frame": false / n,
           "classified_per_s": stats.classified / (n / fps), "cpu_ms_per_frame": 1000 * cpu / n,
           "cuts_seen": stats.cuts}
    if who and any(who):
        row.update(identity(results, who, cuts))
    return row


def format_steadiness(rows: list[dict]) -> str:
    head = (f"{'video':<12}{'move/frame':>11}{'every-1':>9}{'rev/100':>9}{'changes/s':>10}{'uncertain':>10}"
            f"{'found':>7}{'false/fr':>9}{'ids x cut':>10}{'2-people':>9}{'class/s':>8}{'CPU ms':>8}")
    lines = [head]
    for r in rows:
        lines.append(f"{r['video']:<12}{r['movement']:>11.3f}{r['reference_movement']:>9.3f}"
                     f"{r['reversals_per_100']:>9.1f}{r['changes_per_face_s']:>10.2f}{r['uncertain']:>10.1%}"
                     f"{r['faces_found']:>7.1%}{r['false_boxes_per_frame']:>9.3f}"
                     f"{r.get('ids_across_cuts', '-'):>10}{r.get('ids_with_two_people', '-'):>9}"
                     f"{r['classified_per_s']:>8.1f}{r['cpu_ms_per_frame']:>8.2f}")
    return "\n".join(lines)
