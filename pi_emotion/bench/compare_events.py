"""Whether two runs of the appliance on the same video saw the same thing, from their events files.

Used to prove the appliance on another architecture (``deploy/check-arm64.sh``): floating point
differs a little between x86 and arm64 builds of OpenCV and the model runtime, so boxes may move by
a pixel or two and a face whose two best emotions are nearly tied may tip the other way; a real
fault (a wrong model, a broken decoder, a missing face) moves much more than that.

``python -m pi_emotion.bench.compare_events REFERENCE OTHER`` prints a summary; exit 1 when the runs
differ beyond the limits, 2 when a file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pi_emotion.errors import UserError

BOX_TOLERANCE = 6  # pixels any edge of a face's box may differ by
MIN_LABEL_AGREEMENT = 0.95  # share of faces whose raw (unsmoothed) label must be equal


@dataclass
class Comparison:
    frames: int = 0
    faces: int = 0
    same_label: int = 0
    box_diff: int = 0  # largest, pixels
    score_diff: float = 0.0  # largest difference of any emotion's probability
    problems: list[str] = field(default_factory=list)

    def failures(self, box_tolerance: int = BOX_TOLERANCE, min_agreement: float = MIN_LABEL_AGREEMENT) -> list[str]:
        """What differs beyond the limits, one line each; empty when the runs agree."""
        found = list(self.problems)
        if self.box_diff > box_tolerance:
            found.append(f"boxes differ by up to {self.box_diff} px (limit {box_tolerance})")
        if self.faces and self.same_label < min_agreement * self.faces:
            found.append(f"raw labels equal for {self.same_label} of {self.faces} faces "
                         f"({self.agreement:.1%}, need {min_agreement:.0%})")
        return found

    @property
    def agreement(self) -> float:
        return self.same_label / self.faces if self.faces else 1.0

    def summary(self) -> str:
        return (f"{self.faces} faces in {self.frames} frames; boxes within {self.box_diff} px; raw labels equal "
                f"for {self.same_label} of {self.faces} ({self.agreement:.1%}); probabilities within "
                f"{self.score_diff:.2f}")


def read_frames(path: Path) -> dict[int, list[dict]]:
    """Faces of each frame of an events file, by frame number (run and summary lines are skipped)."""
    frames: dict[int, list[dict]] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise UserError(f"cannot read events file {path}: {exc.strerror}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            raise UserError(f"{path}:{number}: not a JSON line") from None
        if isinstance(data, dict) and "frame" in data and "faces" in data:
            frames[data["frame"]] = data["faces"]
    if not frames:
        raise UserError(f"{path}: no frames (is it an events file written with --events-mode all?)")
    return frames


def box_diff(a: dict, b: dict) -> int:
    """How far apart two faces' boxes are: the largest difference of x, y, width or height."""
    return max(abs(p - q) for p, q in zip(a["box"], b["box"], strict=True))


def pair(ours: list[dict], theirs: list[dict]) -> list[tuple[dict, dict]]:
    """The faces of one frame in both runs, nearest boxes first (a frame has a handful of faces)."""
    pairs = sorted(((box_diff(a, b), i, j) for i, a in enumerate(ours) for j, b in enumerate(theirs)))
    used_a: set[int] = set()
    used_b: set[int] = set()
    matched = []
    for _, i, j in pairs:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            matched.append((ours[i], theirs[j]))
    return matched


def compare(reference: dict[int, list[dict]], other: dict[int, list[dict]]) -> Comparison:
    """Frame by frame: the same frames, the same number of faces, each face's box, label and probabilities."""
    result = Comparison(frames=len(reference))
    if set(reference) != set(other):
        missing = sorted(set(reference) ^ set(other))
        result.problems.append(f"frames differ: {len(missing)} in one run only (first: {missing[0]})")
    for frame in sorted(set(reference) & set(other)):
        ours, theirs = reference[frame], other[frame]
        if len(ours) != len(theirs):
            result.problems.append(f"frame {frame}: {len(ours)} faces in the reference, {len(theirs)} in the other")
        for a, b in pair(ours, theirs):
            result.faces += 1
            result.box_diff = max(result.box_diff, box_diff(a, b))
            result.same_label += a.get("raw_emotion") == b.get("raw_emotion")
            scores = a.get("scores", {}), b.get("scores", {})
            diffs = (abs(v - scores[1].get(k, 0.0)) for k, v in scores[0].items())
            result.score_diff = max([result.score_diff, *diffs])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pi_emotion.bench.compare_events",
                                     description="Compare two events files of the same video, frame by frame.")
    parser.add_argument("reference", type=Path, help="events file of the reference run (this machine)")
    parser.add_argument("other", type=Path, help="events file of the run to check (e.g. arm64)")
    parser.add_argument("--box-tolerance", type=int, default=BOX_TOLERANCE,
                        help=f"pixels a box may differ by (default {BOX_TOLERANCE})")
    parser.add_argument("--min-agreement", type=float, default=MIN_LABEL_AGREEMENT,
                        help=f"share of faces whose raw label must be equal (default {MIN_LABEL_AGREEMENT})")
    args = parser.parse_args(argv)
    try:
        result = compare(read_frames(args.reference), read_frames(args.other))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.summary())
    failures = result.failures(args.box_tolerance, args.min_agreement)
    for line in failures[:10]:
        print(f"differs: {line}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
