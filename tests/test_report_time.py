"""The report's time axis: files in any order, runs that restart, track ids kept apart, bucket sizes, time stamps
without a zone, and a wall clock that is set while the appliance runs."""

import json
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from pi_emotion.report.load import load
from pi_emotion.report.summarise import MAX_BUCKETS, bucket_seconds, timeline, totals, track_rows

START = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def frames(n, *, t0=0.0, wall=START, track=1, fps=10.0, jump_at=None, jump=timedelta(0), zone=True):
    """``n`` frame lines with one face; the wall clock steps by ``jump`` from frame ``jump_at`` on."""
    out = []
    for i in range(n):
        t = t0 + i / fps
        stamp = wall + timedelta(seconds=i / fps) + (jump if jump_at is not None and i >= jump_at else timedelta(0))
        ts = stamp.isoformat() if zone else stamp.replace(tzinfo=None).isoformat()
        out.append({"frame": i, "t": t, "ts": ts, "faces": [{"track": track, "emotion": "happy", "box": [0, 0, 9, 9]}]})
    return out


def write(path, *groups, run_lines=True):
    lines = []
    for group in groups:
        if run_lines:
            lines.append({"type": "run", "source": "cam"})
        lines += group
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_rotated_files_are_read_oldest_first_whatever_order_they_are_given_in(tmp_path):
    lines = frames(300)
    (tmp_path / "events.jsonl.2").write_text("".join(json.dumps(x) + "\n" for x in lines[:100]))
    (tmp_path / "events.jsonl.1").write_text("".join(json.dumps(x) + "\n" for x in lines[100:200]))
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines[200:]))
    given = [tmp_path / "events.jsonl", tmp_path / "events.jsonl.2", tmp_path / "events.jsonl.1"]
    (series,) = load(given).series
    assert [p.name for p in series.files] == ["events.jsonl.2", "events.jsonl.1", "events.jsonl"]
    expected = START.timestamp() + np.arange(300) / 10
    assert np.allclose(series.frame_t, expected)


@pytest.mark.parametrize("run_lines", [True, False])
def test_runs_whose_media_time_restarts_follow_each_other_and_keep_their_faces_apart(tmp_path, run_lines):
    """Two runs without wall clock (older files): the second starts where the first ended; both call their face 1."""
    first = [{k: v for k, v in x.items() if k != "ts"} for x in frames(50)]
    second = [{k: v for k, v in x.items() if k != "ts"} for x in frames(30)]
    record = load([write(tmp_path / "e.jsonl", first, second, run_lines=run_lines)])
    (series,) = record.series
    assert not record.absolute
    assert np.all(np.diff(series.frame_t) >= 0) and series.frame_t[50] == pytest.approx(series.frame_t[49])
    assert len(np.unique(series.face_track)) == 2
    assert totals(record)[0].faces == 2
    rows, total = track_rows(record)
    assert total == 2 and sorted(r.label for r in rows) == ["#1", "#1 (run 2)"]


def test_bucket_sizes_suit_the_record_and_every_frame_lands_in_one(tmp_path):
    assert [bucket_seconds(s) for s in (60, 150, 151, 3600, 86400, 30 * 86400)] == [1, 1, 2, 30, 600, 21600]
    lines = frames(3001, fps=1 / 29)  # a day: a frame every 29 s
    record = load([write(tmp_path / "day.jsonl", lines)])
    line = timeline(record)
    assert line.step == 600 and len(line.counts) <= MAX_BUCKETS + 1
    assert line.counts.sum() == 3001  # none lost off either end
    assert line.start <= START.timestamp() and line.times[-1] + line.step / 2 >= START.timestamp() + 3000 * 29


def test_time_stamps_without_a_zone_are_utc_wherever_the_report_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        naive = load([write(tmp_path / "naive.jsonl", frames(20, zone=False))]).series[0]
        zoned = load([write(tmp_path / "zoned.jsonl", frames(20))]).series[0]
    finally:
        monkeypatch.undo()
        time.tzset()
    assert naive.frame_t[0] == START.timestamp() and np.array_equal(naive.frame_t, zoned.frame_t)


@pytest.mark.parametrize("jump", [timedelta(days=3), timedelta(hours=-2)])
def test_a_wall_clock_set_while_running_moves_the_frames_before_it(tmp_path, jump):
    """A Pi without a real-time clock boots with an old time and gets the right one later, mid-run."""
    lines = frames(200, wall=START - jump, jump_at=120, jump=jump)  # frames 120 on carry the right time
    record = load([write(tmp_path / "e.jsonl", lines)])
    (series,) = record.series
    assert np.allclose(series.frame_t, START.timestamp() + np.arange(200) / 10)  # one run, on the set clock
    assert timeline(record).step == 1
    assert totals(record)[0].duration_s == pytest.approx(20, abs=0.2)  # not days


def test_a_clock_step_in_one_run_leaves_the_other_runs_alone(tmp_path):
    before = frames(50)
    stepped = frames(50, wall=START + timedelta(minutes=10) - timedelta(days=1), jump_at=25, jump=timedelta(days=1))
    after = frames(50, wall=START + timedelta(minutes=20))
    (series,) = load([write(tmp_path / "e.jsonl", before, stepped, after)]).series
    assert np.allclose(series.frame_t[:50], START.timestamp() + np.arange(50) / 10)
    assert np.allclose(series.frame_t[50:100], START.timestamp() + 600 + np.arange(50) / 10)
    assert np.allclose(series.frame_t[100:], START.timestamp() + 1200 + np.arange(50) / 10)


def test_a_slow_machine_is_no_clock_step(tmp_path):
    """Wall time running ahead of media time by a little each frame (a file analysed slowly) is kept as recorded."""
    lines = frames(100)
    for i, line in enumerate(lines):
        line["ts"] = (START + timedelta(seconds=i * 0.5)).isoformat()  # half a second a frame of 0.1 s
    (series,) = load([write(tmp_path / "e.jsonl", lines)]).series
    assert np.allclose(series.frame_t, START.timestamp() + np.arange(100) * 0.5)
