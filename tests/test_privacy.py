"""Privacy that holds: pixelated faces in what leaves as a picture, nothing stored by default, aggregates only."""

import base64
import http.client
import json
import os
import shutil
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest
from broker import ApplianceProcess, Broker, Subscriber, free_port, needs_mosquitto, payload
from conftest import DATA, MODEL, ROOT, SAMPLE, assert_user_error, frame_lines, run_cli

from pi_emotion.config import Settings
from pi_emotion.integrations.stream.hub import FrameHub, StreamOutput
from pi_emotion.integrations.stream.server import StreamServer
from pi_emotion.perception.annotate import annotate
from pi_emotion.perception.classify import EmotionClassifier
from pi_emotion.results.frame import Box, Face, FrameResult
from pi_emotion.runtime.app import build_detector
from pi_emotion.runtime.pipeline import Pipeline, PipelineOptions
from pi_emotion.sources.video import VideoFileSource


def edges(image: np.ndarray, box: Box) -> np.ndarray:
    """The face's own fine structure: Laplacian of the box's inner part (the drawn outline left out)."""
    x, y, w, h = box
    m = w // 5
    grey = cv2.cvtColor(image[y + m:y + h - m, x + m:x + w - m], cv2.COLOR_BGR2GRAY).astype(np.float64)
    return cv2.Laplacian(cv2.GaussianBlur(grey, (3, 3), 0), cv2.CV_64F)


def kept(source: np.ndarray, shown: np.ndarray, box: Box) -> float:
    """How much of the source face's detail the shown picture still has (correlation of their edges)."""
    return float(np.corrcoef(edges(source, box).ravel(), edges(shown, box).ravel())[0, 1])


def record(tmp_path, *flags):
    video, events = tmp_path / f"out{len(flags)}.mp4", tmp_path / f"events{len(flags)}.jsonl"
    proc = run_cli("--source", SAMPLE, "--output", video, "--events", events, *flags)
    assert proc.returncode == 0, proc.stderr
    return video, [json.loads(line) for line in frame_lines(events)]


def test_blurred_recording_keeps_no_face_detail(tmp_path):
    results = {}
    for flags in ((), ("--blur-faces",)):
        video, lines = record(tmp_path, *flags)
        source, shown = cv2.VideoCapture(str(SAMPLE)), cv2.VideoCapture(str(video))
        scores, variance = [], []
        for line in lines:
            (ok1, original), (ok2, frame) = source.read(), shown.read()
            assert ok1 and ok2
            for face in line["faces"]:
                scores.append(kept(original, frame, face["box"]))
                variance.append(edges(frame, face["box"]).var())
        assert len(scores) > 100
        results[flags] = np.array(scores), float(np.mean(variance))
    plain, blurred = results[()], results[("--blur-faces",)]
    assert plain[0].min() > 0.8  # the measure sees a face that is there
    assert np.abs(blurred[0]).max() < 0.25  # and none is left in any face of any frame
    assert blurred[1] < 0.6 * plain[1]  # less fine detail inside the boxes overall


def test_labels_stay_readable_over_a_blurred_face(photos):
    image = photos["obama-480p"]
    box = (250, 60, 160, 160)
    result = FrameResult(0, 0.0, [Face(box, "happy", 0.9, {"happy": 0.9}, 1, "happy", 0.9)])
    plain = annotate(image.copy(), result)
    blurred = annotate(image.copy(), result, blur_faces=True)
    label_rows = slice(box[1] - 30, box[1] - 2)  # the label bar sits above the box
    label = (label_rows, slice(box[0], box[0] + 90))
    assert np.array_equal(plain[label], blurred[label])  # drawn after the pixelation, untouched by it
    assert not np.array_equal(plain[box[1] + 40:box[1] + 120, box[0] + 40:box[0] + 120],
                              blurred[box[1] + 40:box[1] + 120, box[0] + 40:box[0] + 120])


def test_notice_is_drawn_on_the_picture(photos):
    image = photos["obama-480p"]
    result = FrameResult(0, 0.0, [])
    plain = annotate(image.copy(), result)
    noticed = annotate(image.copy(), result, notice=True)
    h = image.shape[0]
    assert not np.array_equal(plain[h - 30:, :200], noticed[h - 30:, :200])
    assert np.array_equal(plain[:h - 40], noticed[:h - 40])


@pytest.fixture
def still_video(tmp_path):
    """A short real video of one still photograph: the face stays in one place."""
    path = tmp_path / "still.avi"
    image = cv2.imread(str(DATA / "obama-480p.jpg"))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (image.shape[1], image.shape[0]))
    for _ in range(30):
        writer.write(image)
    writer.release()
    return path, image


def snapshot_of(path, blur: bool) -> tuple[np.ndarray, dict]:
    source = VideoFileSource(path, loop=True, realtime=True)
    hub = FrameHub()
    classifier = EmotionClassifier(MODEL)
    pipeline = Pipeline(source, build_detector(Settings()), classifier, [StreamOutput(hub)],
                        PipelineOptions(blur_faces=blur))
    server = StreamServer(hub, ("127.0.0.1", 0), "s3cret")
    stop, first = threading.Event(), threading.Event()
    pipeline.hooks.append(lambda result, stats: first.set())
    thread = threading.Thread(target=pipeline.run, args=(stop,), daemon=True)
    server.start()
    thread.start()
    try:
        assert first.wait(60)
        auth = {"Authorization": "Basic " + base64.b64encode(b"u:s3cret").decode()}
        conn = http.client.HTTPConnection("127.0.0.1", server.address[1], timeout=30)
        conn.request("GET", "/snapshot.jpg", headers=auth)
        response = conn.getresponse()
        assert response.status == 200
        jpeg = response.read()
        conn.request("GET", "/api/events?n=1", headers=auth)
        last = json.loads(conn.getresponse().read())[-1]
        conn.close()
    finally:
        stop.set()
        thread.join(10)
        server.close()
        hub.close()
        source.close()
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), last


def test_blurred_snapshot_keeps_no_face_detail(still_video):
    path, original = still_video
    plain, plain_result = snapshot_of(path, blur=False)
    blurred, result = snapshot_of(path, blur=True)
    assert plain_result["faces"] and result["faces"]
    box = result["faces"][0]["box"]
    assert kept(original, plain, box) > 0.8
    assert abs(kept(original, blurred, box)) < 0.25
    assert edges(blurred, box).var() < 0.6 * edges(plain, box).var()


def test_nothing_but_the_events_file_is_written_by_default(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "pi_emotion", "--source", SAMPLE, "--events", "events.jsonl",
                           "--stream", f"127.0.0.1:{free_port()}", "--max-frames", "60", "--log-level", "debug"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert written == ["events.jsonl"]
    assert max(len(line) for line in proc.stderr.splitlines()) < 300  # no picture or crop dumped into the log
    lines = [json.loads(line) for line in frame_lines(tmp_path / "events.jsonl")]
    assert {key for line in lines for face in line["faces"] for key in face} == {
        "box", "emotion", "score", "scores", "track", "raw_emotion", "raw_score"}


def test_summary_events_file(tmp_path):
    events = tmp_path / "summary.jsonl"
    proc = run_cli("--source", SAMPLE, "--events", events, "--events-mode", "summary", "--interval", "2",
                   "--min-group", "2")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in frame_lines(events)]
    assert len(lines) == 3  # six seconds of video in 2 s intervals
    assert all(line["type"] == "summary" and line["ts"].endswith("Z") for line in lines)
    assert [line["start"] for line in lines] == [0, 2, 4]
    assert sum(line["frames"] for line in lines) == 180
    for line in lines:
        if line["suppressed"]:
            assert "counts" not in line and "shares" not in line and "faces" not in line
        else:
            assert line["faces"] >= 2 and sum(line["counts"].values()) == line["face_frames"]
            assert abs(sum(line["shares"].values()) - 100) < 0.5
    assert not any("box" in json.dumps(line) for line in lines)


def test_aggregate_mode_refuses_picture_outputs(tmp_path):
    assert_user_error(run_cli("--source", SAMPLE, "--privacy", "aggregate", "--output", tmp_path / "x.mp4"),
                      "--privacy aggregate", "--output")
    assert_user_error(run_cli("--source", SAMPLE, "--privacy", "aggregate", "--display", "fb"),
                      "--privacy aggregate", "--display")


def get(port, path, auth):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Authorization": "Basic " + base64.b64encode(auth).decode()})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


@needs_mosquitto
def test_aggregate_mode_sends_no_picture_and_no_face(tmp_path):
    broker = Broker(tmp_path).start()
    events, port = tmp_path / "events.jsonl", free_port()
    sub = Subscriber(broker.port, "pi-emotion/#")
    app = ApplianceProcess("--mqtt", f"127.0.0.1:{broker.port}", "--device-name", "museum", "--privacy",
                           "aggregate", "--interval", "3", "--min-group", "3", "--events", events,
                           "--stream", f"127.0.0.1:{port}", "--stream-password", "pw", "--notice", realtime=False)
    try:
        app.log.wait(lambda line: "browser view at" in line)
        states = sub.wait(lambda m: m.topic.endswith("/state"), count=6)
        for route in ("/snapshot.jpg", "/stream.mjpg", "/api/events"):
            status, body = get(port, route, b"x:pw")
            assert status == 403 and b"aggregate" in body
            assert not body.startswith(b"\xff\xd8")
        status, body = get(port, "/api/status", b"x:pw")
        assert status == 200 and json.loads(body)["privacy"] == "aggregate" and json.loads(body)["notice"] is True
        assert get(port, "/metrics", b"x:pw")[0] == 200
        status, body = get(port, "/api/history", b"x:pw")  # the page's chart: aggregates, small groups hidden
        history = json.loads(body)
        assert status == 200 and history["intervals"] and "uncertain" in history["labels"]
        assert any(i["suppressed"] for i in history["intervals"])
        for i in history["intervals"]:
            if i["suppressed"]:
                assert "counts" not in i and "faces" not in i
            else:
                assert i["faces"] >= 3 or i["face_frames"] == 0
        assert app.stop() == 0
    finally:
        app.kill()
        broker.stop()
    sub.close()
    assert not [m for m in sub.messages if m.topic.endswith("/events")]  # no per-face events at all
    assert not [m for m in sub.messages if m.payload.startswith(b"\xff\xd8")]
    seen = [payload(m) for m in states]
    assert all(s["mode"] == "aggregate" and s["interval_s"] == 3 for s in seen)
    for s in seen:
        if s["suppressed"]:
            assert s["shares"] is None and s["dominant_emotion"] is None and s["faces"] is None
        else:
            assert s["faces"] >= 3 and set(s["shares"]) >= {"happy", "neutral"}
    assert any(not s["suppressed"] for s in seen) and any(s["suppressed"] for s in seen)
    lines = [json.loads(line) for line in frame_lines(events)]
    assert lines and all(line["type"] == "summary" for line in lines)
    kept = "".join(frame_lines(events))  # the run line names settings (track_hold, ...), not faces
    assert "box" not in kept and "track" not in kept


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                    reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
def test_page_shows_the_notice_and_no_picture_in_aggregate_mode(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    hub = FrameHub()
    status = {"fps": 12.5, "faces_now": 0, "privacy": "aggregate", "notice": True}
    server = StreamServer(hub, ("127.0.0.1", 0), status=lambda: status, private=True)
    server.start()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.get(f"http://127.0.0.1:{server.address[1]}/")
        WebDriverWait(driver, 30).until(lambda d: d.find_element("id", "fps").text == "12.5")
        notice = driver.find_element("id", "notice")
        assert notice.is_displayed() and "Emotion analysis active" in notice.text
        assert not driver.find_element("id", "stream").is_displayed()
        assert driver.find_element("id", "private").is_displayed()
        assert driver.find_element("id", "chart").is_displayed()  # aggregates are what this mode shows
        assert driver.execute_script("return document.getElementById('stream').getAttribute('src')") is None
        requested = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert not any("stream.mjpg" in url or "api/events" in url for url in requested)
    finally:
        driver.quit()
        server.close()
        hub.close()
