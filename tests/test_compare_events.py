"""The arm64 check's comparison, on events files of a real run: equal, boxes moved, labels changed, a face lost."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT, SAMPLE, run_cli

from pi_emotion.bench.compare_events import compare, read_frames


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    path = tmp_path_factory.mktemp("events") / "x86.jsonl"
    proc = run_cli("--config", "/dev/null", "--source", SAMPLE, "--max-frames", "10", "--events", path)
    assert proc.returncode == 0, proc.stderr
    return path


def altered(path, out, change):
    """A copy of an events file with ``change(frame_number, faces)`` applied to each frame line."""
    lines = []
    for line in path.read_text().splitlines():
        data = json.loads(line)
        if "faces" in data:
            change(data["frame"], data["faces"])
        lines.append(json.dumps(data))
    out.write_text("\n".join(lines) + "\n")
    return out


def check(reference, other, *args):
    return subprocess.run([sys.executable, "-m", "pi_emotion.bench.compare_events", reference, other, *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_a_run_equals_itself(events):
    result = compare(read_frames(events), read_frames(events))
    assert result.frames == 10 and result.faces == 20 and result.same_label == 20
    assert result.box_diff == 0 and result.failures() == []
    proc = check(events, events)
    assert proc.returncode == 0 and "20 faces in 10 frames" in proc.stdout


def test_boxes_moved_a_little_pass_and_moved_far_fail(events, tmp_path):
    def shift(by):
        def change(frame, faces):
            for face in faces:
                face["box"][0] += by
        return change

    near = altered(events, tmp_path / "near.jsonl", shift(4))
    assert check(events, near).returncode == 0
    far = altered(events, tmp_path / "far.jsonl", shift(9))
    proc = check(events, far)
    assert proc.returncode == 1 and "boxes differ by up to 9 px (limit 6)" in proc.stdout
    assert check(events, far, "--box-tolerance", 10).returncode == 0


def test_faces_are_paired_by_box_not_by_order(events, tmp_path):
    swapped = altered(events, tmp_path / "swapped.jsonl", lambda frame, faces: faces.reverse())
    result = compare(read_frames(events), read_frames(swapped))
    assert result.box_diff == 0 and result.same_label == 20


def test_a_changed_label_within_the_share_passes_two_fail(events, tmp_path):
    def relabel(frames):
        def change(frame, faces):
            if frame in frames:
                faces[0]["raw_emotion"] = "surprise" if faces[0]["raw_emotion"] != "surprise" else "sad"
        return change

    one = altered(events, tmp_path / "one.jsonl", relabel({3}))
    assert check(events, one).returncode == 0  # 19 of 20 = 95%
    two = altered(events, tmp_path / "two.jsonl", relabel({3, 4}))
    proc = check(events, two)
    assert proc.returncode == 1 and "raw labels equal for 18 of 20 faces" in proc.stdout


def test_a_lost_face_fails(events, tmp_path):
    lost = altered(events, tmp_path / "lost.jsonl", lambda frame, faces: faces.pop() if frame == 5 else None)
    proc = check(events, lost)
    assert proc.returncode == 1 and "frame 5: 2 faces in the reference, 1 in the other" in proc.stdout


def test_an_unreadable_file_is_one_line_and_exit_2(events, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    proc = check(events, bad)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"error: {bad}:1: not a JSON line"
