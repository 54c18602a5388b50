"""Records that are complete and true: events appended and rotated, wall-clock stamps, recordings
that last as long as what they recorded, decoded back from the real files."""

import json
import re
import time
from datetime import datetime

import cv2
import numpy as np
import pytest
from conftest import SAMPLE, assert_user_error, run_cli

from pi_emotion.outputs.events import EventsWriter
from pi_emotion.outputs.video import MAX_HOLD, VideoWriter
from pi_emotion.results.frame import Face, FrameResult


def lines_of(path):
    data = path.read_bytes()
    assert data.endswith(b"\n"), f"{path.name} does not end on a whole line"
    return [json.loads(line) for line in data.splitlines()]


def frames_of(path):
    return [line for line in lines_of(path) if line.get("type") != "run"]


def test_a_second_run_appends_to_the_events_file_each_run_describing_itself_first(tmp_path):
    events = tmp_path / "events.jsonl"
    for detect_every in (2, 3):
        proc = run_cli("--source", SAMPLE, "--max-frames", "10", "--events", events, "--detect-every", detect_every)
        assert proc.returncode == 0, proc.stderr
    lines = lines_of(events)
    assert [i for i, e in enumerate(lines) if e.get("type") == "run"] == [0, 11]
    assert [e["frame"] for e in lines if e.get("type") != "run"] == list(range(10)) * 2
    first, second = lines[0], lines[11]
    assert first["source"] == str(SAMPLE) and first["live"] is False and first["model"] == "emotion.tflite"
    assert first["detector"] == "yunet" and first["version"] and "uncertain" in first["labels"]
    assert (first["settings"]["detect_every"], second["settings"]["detect_every"]) == (2, 3)
    assert datetime.fromisoformat(first["start"]) <= datetime.fromisoformat(second["start"])


def test_the_report_keeps_the_faces_of_two_runs_in_one_file_apart(tmp_path):
    from pi_emotion.report.load import load

    events = tmp_path / "events.jsonl"
    header = {"type": "run", "source": "a.mp4", "live": False}
    for run in range(2):  # the same track number, 1, in two runs whose media time does not restart
        writer = EventsWriter(events, header=header)
        writer.write(None, FrameResult(0, 5.0 + run, [Face((0, 0, 10, 10), "happy", 0.9, {}, 1, "happy", 0.9)]))
        writer.close()
    first, second = load([events]).series  # each run of a file is a series of its own
    assert (first.name, second.name) == ("a.mp4", "a.mp4 (2)")
    assert first.face_track.tolist() == second.face_track.tolist() == [1]


def test_a_run_rotated_over_several_files_is_one_run_to_the_report(tmp_path):
    from pi_emotion.report.load import load

    events = tmp_path / "events.jsonl"
    header = {"type": "run", "start": "2026-12-01T10:00:00.000Z", "source": "cam", "live": True}
    writer = EventsWriter(events, max_bytes=2000, keep=9, header=header)
    for i in range(30):
        writer.write(None, FrameResult(i, i / 30, [Face((0, 0, 10, 10), "happy", 0.9, {}, 7, "happy", 0.9)]))
    writer.close()
    files = [events, *tmp_path.glob("events.jsonl.*")]
    assert len(files) >= 3
    (series,) = load(files).series
    assert len(series.frame_t) == 30 and set(series.face_track.tolist()) == {7}  # one face, not one per file


def test_every_rotated_file_starts_with_the_run_line(tmp_path):
    events = tmp_path / "events.jsonl"
    writer = EventsWriter(events, max_bytes=400, keep=3, header={"type": "run", "source": "cam"})
    for i in range(20):
        writer.write(None, FrameResult(i, i / 30))
    writer.close()
    files = [events, *sorted(tmp_path.glob("events.jsonl.*"))]
    assert len(files) >= 3
    assert all(lines_of(f)[0]["type"] == "run" for f in files)


def test_a_line_cut_off_by_a_power_loss_is_dropped_when_the_file_is_opened_again(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_bytes(b'{"frame":0,"t":0.0,"faces":[]}\n{"frame":1,"t":0.033,"fa')
    writer = EventsWriter(events)
    writer.write(None, FrameResult(2, 0.066))
    writer.close()
    assert [e["frame"] for e in lines_of(events)] == [0, 2]


def face(box=(10, 10, 40, 40)):
    return Face(box, "happy", 0.9, {"happy": 0.9, "sad": 0.1}, 1, "happy", 0.9)


def three_hundred_frames(events, keep: int) -> EventsWriter:
    """300 one-face frames through a writer that rotates at 4000 bytes, closed."""
    writer = EventsWriter(events, max_bytes=4000, keep=keep)
    for i in range(300):
        writer.write(None, FrameResult(i, i / 30, [face()]))
    writer.close()
    return writer


def test_events_rotate_at_the_size_limit_keeping_whole_files(tmp_path):
    events = tmp_path / "events.jsonl"
    writer = three_hundred_frames(events, keep=2)
    kept = [tmp_path / "events.jsonl.2", tmp_path / "events.jsonl.1", events]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in kept)
    assert writer.rotations > 3 and all(p.stat().st_size <= 4000 for p in kept)
    frames = [e["frame"] for p in kept for e in lines_of(p)]
    assert frames == list(range(frames[0], 300)) and frames[0] > 0  # the newest, in order; the oldest went


def test_a_rotation_keeps_the_file_it_just_filled_even_with_keep_zero(tmp_path):
    """The writer's own floor: the newest full file is never thrown away at a rotation."""
    events = tmp_path / "events.jsonl"
    three_hundred_frames(events, keep=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl", "events.jsonl.1"]
    frames = [e["frame"] for p in (tmp_path / "events.jsonl.1", events) for e in lines_of(p)]
    assert frames == list(range(frames[0], 300)) and len(frames) > len(lines_of(events))


def test_keep_zero_is_refused_on_the_command_line(tmp_path):
    proc = run_cli("--source", SAMPLE, "--events", tmp_path / "e.jsonl", "--events-keep", "0")
    assert_user_error(proc, "events-keep", "at least 1")
    assert not (tmp_path / "e.jsonl").exists()


def test_rotation_options_on_the_command_line(tmp_path):
    events = tmp_path / "events.jsonl"
    proc = run_cli("--source", SAMPLE, "--events", events, "--events-max-mb", "0.01", "--events-keep", "3")
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["events.jsonl", "events.jsonl.1", "events.jsonl.2", "events.jsonl.3"]
    for p in tmp_path.iterdir():
        assert 0 < p.stat().st_size <= 10_000 and lines_of(p)


def test_faces_mode_writes_only_frames_with_faces(tmp_path):
    clip = tmp_path / "half_empty.avi"  # the sample's first second, then a second of an empty room
    cap = cv2.VideoCapture(str(SAMPLE))
    out = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    for i in range(60):
        out.write(cap.read()[1] if i < 30 else np.full((480, 640, 3), 90, np.uint8))
    out.release()
    events = tmp_path / "events.jsonl"
    proc = run_cli("--source", clip, "--events", events, "--events-mode", "faces")
    assert proc.returncode == 0, proc.stderr
    written = frames_of(events)
    with_faces = int(re.search(r"faces\s+\d+ in (\d+) frames", proc.stdout)[1])
    assert len(written) == with_faces and 30 <= with_faces < 60
    assert all(e["faces"] for e in written)


def test_every_event_has_a_utc_wall_clock_stamp_beside_media_time(tmp_path):
    events = tmp_path / "events.jsonl"
    before = time.time()
    assert run_cli("--source", SAMPLE, "--max-frames", "30", "--events", events).returncode == 0
    after = time.time()
    written = frames_of(events)
    stamps = [datetime.fromisoformat(e["ts"]) for e in written]
    assert all(e["ts"].endswith("Z") and len(e["ts"]) == len("2026-11-21T09:30:00.125Z") for e in written)
    assert all(s.utcoffset().total_seconds() == 0 for s in stamps)
    assert before - 0.001 <= stamps[0].timestamp() <= stamps[-1].timestamp() <= after + 0.001
    assert written[29]["t"] == pytest.approx(29 / 30, abs=1e-4)


def shade(i):
    """A picture whose grey level names the frame it was (survives lossy coding to within a few levels)."""
    return np.full((96, 128, 3), 8 * (i % 30), np.uint8)


def decode(path):
    cap = cv2.VideoCapture(str(path))
    levels = []
    while True:
        ok, image = cap.read()
        if not ok:
            return levels, cap
        levels.append(round(float(image.mean()) / 8))


def record(path, times, fps=30.0):
    writer = VideoWriter(path, fps, (128, 96))
    for i, t in enumerate(times):
        writer.write(shade(i), FrameResult(i, t))
    writer.close()
    return writer


def test_a_slow_loop_records_a_video_that_plays_in_real_time(tmp_path):
    rng = np.random.default_rng(1)
    times = np.cumsum(rng.uniform(1 / 15, 1 / 10, 120))  # 10 to 15 of a camera's 30 fps processed
    times -= times[0]
    video = tmp_path / "slow.mp4"
    record(video, times)
    levels, cap = decode(video)
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(30)
    slots = np.floor(times * 30 + 0.5).astype(int)
    assert len(levels) == slots[-1] + 1  # playback time = the time it recorded
    # each picture is held until the next one is due: slot s shows the newest frame due by then
    shown = [max(i for i, slot in enumerate(slots) if slot <= s) for s in range(len(levels))]
    assert levels == [i % 30 for i in shown]


def test_a_fast_source_has_frames_dropped_to_the_file_rate(tmp_path):
    video = tmp_path / "fast.avi"
    writer = record(video, [i / 60 for i in range(120)])  # two seconds at 60 fps into a 30 fps file
    levels, _ = decode(video)
    assert writer.frames == len(levels) == 61  # slots 0 to 60: two seconds and one frame


def test_a_long_gap_is_cut_short_rather_than_filled(tmp_path):
    video = tmp_path / "gap.avi"
    record(video, [0.0, 1 / 30, 2 / 30, 600.0, 600 + 1 / 30])  # a camera away for ten minutes
    levels, _ = decode(video)
    assert len(levels) == 2 + round(MAX_HOLD * 30) + 2


def test_a_file_processed_frame_by_frame_keeps_every_frame_once(tmp_path):
    video = tmp_path / "every.mp4"
    assert record(video, [i / 30 for i in range(90)]).frames == 90
    assert len(decode(video)[0]) == 90


def test_webm_recordings_are_vp8_for_browsers(tmp_path):
    video = tmp_path / "clip.webm"
    record(video, [i / 30 for i in range(30)])
    levels, cap = decode(video)
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
    assert len(levels) == 30 and fourcc == "VP80"
