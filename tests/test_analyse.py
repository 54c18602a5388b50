"""Recordings in, tables out: the real pipeline over real files, in parallel or not, resumable."""

import csv
import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios

import pytest
from conftest import DATA, ROOT, interactive_env, run_cli, wait_until

FILES = [DATA / "sample.mp4", DATA / "steady.mp4", DATA / "obama-480p.jpg"]


def table(folder, name):
    with (folder / name).open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def one_job(tmp_path_factory):
    out = tmp_path_factory.mktemp("one")
    proc = run_cli("analyse", *FILES, "-o", out, "--jobs", "1")
    assert proc.returncode == 0, proc.stderr
    return out


def test_tables_have_a_row_per_face_per_frame_per_track_and_per_file(one_job):
    faces, tracks, files = (table(one_job, n) for n in ("faces.csv", "tracks.csv", "files.csv"))
    assert [f["file"] for f in files] == [str(p) for p in FILES]  # in the order given
    sample, steady, photo = files
    assert (sample["frames"], steady["frames"], photo["frames"]) == ("180", "270", "1")
    assert float(steady["length_s"]) == pytest.approx(9.0)
    assert int(steady["tracks"]) == 6  # the clip's six people, none carried across its two cuts
    assert len(faces) == sum(int(f["face_frames"]) for f in files)
    row = faces[0]
    probabilities = [float(v) for k, v in row.items() if k.startswith("p_")]
    assert len(probabilities) == 7 and sum(probabilities) == pytest.approx(1, abs=0.01)
    for track in tracks:
        shares = [float(v) for k, v in track.items() if k.startswith("share_")]
        assert sum(shares) == pytest.approx(1, abs=0.01) and "share_uncertain" in track
        assert float(track["duration_s"]) == pytest.approx(float(track["last_t"]) - float(track["first_t"]), abs=1e-3)
    mine = [f for f in faces if f["file"] == str(DATA / "steady.mp4") and f["track"] == tracks[4]["track"]]
    assert mine and all(float(f["t"]) <= 9.0 for f in mine)  # media time, not wall-clock time


def test_two_jobs_give_the_same_tables_as_one(one_job, tmp_path):
    proc = run_cli("analyse", *FILES, "-o", tmp_path, "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    for name in ("faces.csv", "tracks.csv", "files.csv"):
        assert (tmp_path / name).read_bytes() == (one_job / name).read_bytes(), name


def test_an_unreadable_file_is_reported_and_skipped(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    proc = run_cli("analyse", junk, DATA / "obama-480p.jpg", tmp_path / "missing.mp4", "-o", tmp_path / "out")
    assert proc.returncode == 1
    assert "junk.mp4" in proc.stderr and "missing.mp4" in proc.stderr and "Traceback" not in proc.stderr
    assert [f["file"] for f in table(tmp_path / "out", "files.csv")] == [str(DATA / "obama-480p.jpg")]


def test_an_interrupted_batch_goes_on_where_it_stopped(one_job, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "pi_emotion", "analyse", *map(str, FILES), "-o", str(out), "--jobs", "1"]
    # Ctrl-C as at a terminal, even when this suite itself runs in the background (where SIGINT is ignored)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=interactive_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert wait_until(lambda: len(list((out / "parts").glob("*.json"))) >= 1)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    done = len(list((out / "parts").glob("*.json")))
    assert 1 <= done < len(FILES) and not (out / "faces.csv").exists()
    again = run_cli("analyse", *FILES, "-o", out, "--jobs", "1")
    assert again.returncode == 0, again.stderr
    assert f"{done} of {len(FILES)} file(s) already done" in again.stdout
    for name in ("faces.csv", "tracks.csv", "files.csv"):
        assert (out / name).read_bytes() == (one_job / name).read_bytes(), name


def run_on_a_terminal(*args) -> str:
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "pi_emotion", *map(str, args)], cwd=ROOT, env=interactive_env(),
                            stdin=child, stdout=child, stderr=child, close_fds=True)
    os.close(child)
    out = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(120) == 0
    os.close(main)
    return out.decode(errors="replace")


def test_a_file_shows_progress_on_a_terminal_and_not_in_a_pipe(tmp_path):
    shown = run_on_a_terminal("--source", DATA / "steady.mp4")
    assert "/270" in shown and "frames/s" in shown  # done of all, and the rate
    piped = run_cli("--source", DATA / "steady.mp4")
    assert "frames/s" not in piped.stdout + piped.stderr
    batch = run_on_a_terminal("analyse", DATA / "steady.mp4", "-o", tmp_path, "--jobs", "1")
    assert "/270" in batch and "frames/s" in batch
