"""The whole appliance through its command line, on the bundled sample and real photos."""

import json

import cv2
import pytest
from conftest import MODEL, SAMPLE, assert_user_error, frame_lines, run_cli

from pi_emotion.results.frame import UNCERTAIN


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    proc = run_cli("--source", SAMPLE, "--output", out / "annotated.mp4", "--events", out / "events.jsonl",
                   "--overlay")
    assert proc.returncode == 0, proc.stderr
    return proc, out


def test_events_have_one_object_per_frame_with_valid_faces(sample_run):
    _, out = sample_run
    events = [json.loads(line) for line in frame_lines(out / "events.jsonl")]
    assert [e["frame"] for e in events] == list(range(180))
    assert events[30]["t"] == pytest.approx(1.0)
    faces = [f for e in events for f in e["faces"]]
    assert len(faces) >= 150
    assert max(len(e["faces"]) for e in events[:60]) == 2  # the two-person pan
    for face in faces:
        x, y, w, h = face["box"]
        assert 0 <= x and 0 <= y and x + w <= 640 and y + h <= 480 and w > 0
        assert sum(face["scores"].values()) == pytest.approx(1.0, abs=1e-3)
        if face["emotion"] == UNCERTAIN:  # no label named: the score is the evidence's best share
            assert face["score"] == pytest.approx(max(face["scores"].values()))
        else:
            assert face["score"] == pytest.approx(face["scores"][face["emotion"]])
        assert face["raw_emotion"] in face["scores"]


def test_annotated_video_decodes_with_the_same_frames_and_rate(sample_run):
    _, out = sample_run
    cap = cv2.VideoCapture(str(out / "annotated.mp4"))
    count = 0
    while cap.read()[0]:
        count += 1
    assert count == 180 and cap.get(cv2.CAP_PROP_FPS) == pytest.approx(30)


def test_summary_reports_frames_faces_emotions_and_stage_times(sample_run):
    proc, _ = sample_run
    assert "frames      180" in proc.stdout
    for word in ("faces", "emotions", "detect", "classify", "capture", "output"):
        assert word in proc.stdout


def test_the_smiling_face_in_the_sample_is_happy(sample_run):
    _, out = sample_run
    events = [json.loads(line) for line in frame_lines(out / "events.jsonl")]
    zoom = [f["emotion"] for e in events[60:120] for f in e["faces"]]  # the zoom into the smiling face
    assert zoom.count("happy") > len(zoom) / 2


def test_max_frames_stops_early(tmp_path):
    proc = run_cli("--source", SAMPLE, "--max-frames", "12", "--events", tmp_path / "e.jsonl")
    assert proc.returncode == 0, proc.stderr
    assert len(frame_lines(tmp_path / "e.jsonl")) == 12


def test_bad_inputs_exit_2_with_one_line(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00garbage" * 500)
    not_model = tmp_path / "m.tflite"
    not_model.write_bytes(b"not a flatbuffer" * 64)
    (tmp_path / "m.json").write_text((MODEL.with_suffix(".json")).read_text())
    bare = tmp_path / "bare.tflite"
    bare.write_bytes(MODEL.read_bytes())
    cases = [
        (["--source", tmp_path / "nothing.mp4"], ["not found"]),
        (["--source", junk], ["not a readable video"]),
        (["--source", "/dev/video99"], ["could not be opened"]),
        (["--source", SAMPLE, "--model", tmp_path / "none.tflite"], ["none.tflite", "not found"]),
        (["--source", SAMPLE, "--model", not_model], ["not a valid TFLite model"]),
        (["--source", SAMPLE, "--model", bare], ["metadata", "missing"]),
        (["--source", SAMPLE, "--detect-width", "ten"], ["--detect-width"]),
        (["--source", SAMPLE, "--scale-factor", "0.5"], ["--scale-factor", "at least"]),
        (["--source", SAMPLE, "--output", tmp_path / "x.gif"], [".mp4"]),
        (["--source", SAMPLE, "--events", tmp_path / "no" / "dir" / "e.jsonl"], ["cannot be written"]),
        (["--frobnicate"], ["--frobnicate"]),
        ([], ["no source"]),
    ]
    for args, words in cases:
        assert_user_error(run_cli(*args), *words)
