"""Capture-thread ordering and dropping, ids and smoothing on the sample, and the bench's JSON schema."""

import importlib.util
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from certs import self_signed
from conftest import DATA, ROOT, SAMPLE, assert_user_error, frame_lines, run_cli

from pi_emotion.runtime.capture import ThreadedCapture
from pi_emotion.sources.base import Frame, FrameSource
from pi_emotion.sources.video import VideoFileSource


class Scripted(FrameSource):
    """A source stand-in whose reads the test releases one at a time, like a camera's frame clock."""

    waiting = False
    corrupt = 0

    def __init__(self, n, live):
        self.live = self.realtime = live
        self.fps, self.size, self.name = 30.0, (8, 8), "scripted"
        self.n = n
        self.tick = threading.Semaphore(0)
        self.delivered = 0

    def pace(self):
        pass

    def read(self):
        self.tick.acquire()
        if self.delivered == self.n:
            return None
        image = np.zeros((8, 8, 3), np.uint8)
        frame = Frame(self.delivered, self.delivered / 30, image, image[:, :, 0])
        self.delivered += 1
        return frame

    def close(self):
        pass


def test_live_capture_hands_on_only_the_newest_frame():
    source = Scripted(10, live=True)
    capture = ThreadedCapture(source, newest_only=True)
    source.tick.release()
    assert capture.read(timeout=10).index == 0
    for _ in range(4):  # four frames arrive while the loop is busy
        source.tick.release()
    with capture._cond:
        assert capture._cond.wait_for(lambda: capture._frames and capture._frames[-1].index == 4, timeout=10)
    assert capture.read(timeout=10).index == 4
    assert capture.dropped == 3
    for _ in range(6):
        source.tick.release()
    rest = []
    while (frame := capture.read(timeout=10)) is not None:
        rest.append(frame.index)
    assert rest[-1] == 9 and rest == sorted(rest)
    capture.close()


def test_file_capture_hands_on_every_frame_in_order():
    source = VideoFileSource(SAMPLE)
    capture = ThreadedCapture(source, newest_only=False)
    indices = []
    while (frame := capture.read(timeout=10)) is not None:
        indices.append(frame.index)
    capture.close()
    source.close()
    assert indices == list(range(180)) and capture.dropped == 0


def test_sample_pan_keeps_track_ids_and_smoothing_removes_single_frame_flips(tmp_path):
    events_path = tmp_path / "e.jsonl"
    proc = run_cli("--source", SAMPLE, "--events", events_path, "--max-frames", "60")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in frame_lines(events_path)]
    ids = [tuple(sorted(f["track"] for f in e["faces"])) for e in events if len(e["faces"]) == 2]
    assert len(ids) > 40 and len(set(ids)) == 1  # the two faces of the pan keep their ids
    for track in ids[0]:
        labels = [f for e in events for f in e["faces"] if f["track"] == track]
        raw = [f["raw_emotion"] for f in labels]
        smooth = [f["emotion"] for f in labels]
        flips = lambda seq: sum(1 for a, b, c in zip(seq, seq[1:], seq[2:]) if a == c != b)  # noqa: E731
        assert flips(smooth) <= flips(raw)
        assert flips(smooth) == 0


def test_bench_json_schema():
    proc = run_cli("bench", "--frames", "30", "--json", "--no-reference", "--threads", "2", "--cv-threads", "1",
                   timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["model_threads"], report["cv_threads"]) == (2, 1)
    assert {"fps", "cpu_ms_per_frame", "stages", "faces_per_frame", "rss_mb", "startup_s"} <= set(report)
    assert report["frames"] == 30 and report["fps"] > 0 and report["rss_mb"] > 0 and report["startup_s"] > 0
    assert report["faces_per_frame"] == pytest.approx(2, abs=0.2)  # two people in the opening (sample.faces.json)
    for name in ("decode", "detect", "classify", "annotate", "output", "encode"):
        stage = report["stages"][name]
        assert 0 <= stage["median_ms"] <= stage["p95_ms"], name


def test_stream_client_cost_bench_encodes_nothing_without_viewers():
    proc = run_cli("bench", "--stream-clients", "0,2", "--frames", "40", "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    none, two = json.loads(proc.stdout)
    assert (none["clients"], none["jpegs"]) == (0, 0)
    assert two["clients"] == 2 and 0 < two["jpegs"] <= two["frames"] == 40  # each frame encoded once for both
    assert two["scheme"] == "http"


def test_stream_client_cost_bench_over_https(tmp_path):
    cert, key = self_signed(tmp_path, "bench")
    proc = run_cli("bench", "--stream-clients", "2", "--frames", "40", "--json", "--stream-tls-cert", cert,
                   "--stream-tls-key", key, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (two,) = json.loads(proc.stdout)
    assert two["scheme"] == "https" and two["jpegs"] > 0  # the viewers shook hands and asked for the stream


@pytest.mark.parametrize("tta", [True, False])
def test_benchmarks_classify_as_the_appliance_is_configured(tta):
    from pi_emotion.bench.pipeline import served_pipeline
    from pi_emotion.config import Settings

    with served_pipeline(Settings(source=str(SAMPLE), tta=tta), frames=1) as (pipeline, _hub, _port):
        assert pipeline.classifier.tta is tta


def test_bench_scores_each_detector_against_the_scene_ground_truth():
    proc = run_cli("bench", "--detectors", "haar,yunet", "--source", DATA / "scene.mp4", "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    haar, yunet = json.loads(proc.stdout)
    assert (haar["detector"], yunet["detector"]) == ("haar", "yunet")
    assert haar["frames"] == yunet["frames"] == 120 and yunet["faces_shown_per_frame"] > 3
    assert yunet["faces_found"] > haar["faces_found"] + 0.2  # the dim, turned and small faces
    assert yunet["frames_with_face_found"] >= 0.95
    assert yunet["cpu_ms_per_frame"] > 0 and "detect" in yunet["stage_ms"]


def test_bench_detectors_needs_ground_truth_and_known_names(tmp_path):
    assert_user_error(run_cli("bench", "--detectors", "haar,mtcnn"), "mtcnn")
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(SAMPLE.read_bytes())
    assert_user_error(run_cli("bench", "--detectors", "yunet", "--source", clip), "ground truth")


@pytest.mark.skipif(importlib.util.find_spec("fer") is not None, reason="fer is installed here")
def test_bench_against_fer_says_how_to_install_it():
    assert_user_error(run_cli("bench", "--peer", "fer", "--frames", "5"), "pip install --no-deps fer==25.10.3")


def test_bench_compares_models_on_the_same_crops_with_work_from_the_files():
    proc = run_cli("bench", "--models", "emotion,emotion-5class", "--frames", "20", "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [(Path(r["model"]).name, r["mirror"]) for r in rows] == [
        ("emotion.tflite", False), ("emotion.tflite", True), ("emotion-5class.tflite", False),
        ("emotion-5class.tflite", True)]
    five = 59_032_064 - 512 * 2  # the same network, its 512 features into two outputs fewer
    assert [r["macs_as_run"] for r in rows] == [59_032_064, 2 * 59_032_064, five, 2 * five]
    assert [round(r["work_ratio"], 4) for r in rows] == [0.5, 1.0, 0.5, 1.0]
    times = [r["ms_per_face"] for r in rows]
    assert [r["time_ratio"] for r in rows] == pytest.approx([t / times[1] for t in times])  # against today's as run
    assert all(t > 0 and r["faces"] == 3 for t, r in zip(times, rows))
    assert_user_error(run_cli("bench", "--models", "emotion,nothing"), "nothing.tflite", "not found")
    assert_user_error(run_cli("bench", "--models", "emotion", "--faces", "7"), "no frame shows 7 faces")
    assert_user_error(run_cli("bench", "--models", "emotion,"), "--models")
    assert_user_error(run_cli("bench", "--models", "emotion", "--source", ROOT / "README.md"), "not a readable video")
