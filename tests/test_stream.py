"""The browser view over real HTTP on loopback: MJPEG, fan-out, slow clients, auth, health, the page."""

import base64
import http.client
import json
import shutil
import socket
import threading

import cv2
import numpy as np
import pytest
from conftest import ROOT, SAMPLE, assert_user_error, interactive_env, run_cli, wait_until
from streaming import DEVICE, Appliance, StallingSource, appliance

from pi_emotion.errors import UserError
from pi_emotion.integrations.stream.logins import LoginLimiter
from pi_emotion.integrations.stream.server import parse_address


def get(port, path, headers=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request("GET", path, headers=headers or {})
    return conn, conn.getresponse()


def read_parts(response, count):
    """Parse ``count`` multipart parts; returns the decoded JPEGs."""
    images = []
    for _ in range(count):
        line = response.fp.readline()
        while line in (b"\r\n", b""):
            if line == b"":
                return images
            line = response.fp.readline()
        assert line == b"--FRAME\r\n", line
        headers = {}
        while (line := response.fp.readline()) != b"\r\n":
            key, _, value = line.decode().partition(":")
            headers[key.strip().lower()] = value.strip()
        assert headers["content-type"] == "image/jpeg"
        body = response.fp.read(int(headers["content-length"]))
        images.append(cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR))
    return images


def test_mjpeg_parts_are_jpegs_of_the_frame_size_with_no_cache_headers():
    with appliance() as app:
        conn, resp = get(app.port, "/stream.mjpg")
        assert resp.status == 200
        assert resp.getheader("Content-Type") == "multipart/x-mixed-replace; boundary=FRAME"
        assert "no-store" in resp.getheader("Cache-Control")
        images = read_parts(resp, 5)
        conn.close()
    assert len(images) == 5
    assert all(img is not None and img.shape == (480, 640, 3) for img in images)


def test_snapshot_status_events_and_healthz():
    with appliance() as app:
        _, resp = get(app.port, "/snapshot.jpg")
        jpeg = cv2.imdecode(np.frombuffer(resp.read(), np.uint8), cv2.IMREAD_COLOR)
        assert resp.status == 200 and jpeg.shape == (480, 640, 3)
        _, resp = get(app.port, "/api/status")
        status = json.loads(resp.read())
        assert {"version", "uptime_s", "source", "model", "fps", "frames", "faces_now", "stages"} <= set(status)
        assert status["frames"] > 0 and "detect" in status["stages"]
        _, resp = get(app.port, "/api/events?n=5")
        events = json.loads(resp.read())
        assert 1 <= len(events) <= 5 and {"frame", "t", "faces"} <= set(events[0])
        conn, resp = get(app.port, "/api/events", {"Accept": "text/event-stream"})
        assert resp.getheader("Content-Type") == "text/event-stream"
        lines = [resp.fp.readline() for _ in range(4)]
        conn.close()
        data = [json.loads(line[6:]) for line in lines if line.startswith(b"data: ")]
        assert len(data) == 2 and data[1]["frame"] > data[0]["frame"]
        _, resp = get(app.port, "/healthz")
        assert resp.status == 200 and json.loads(resp.read())["ok"] is True
        for path, code in (("/nope", 404), ("/../../etc/passwd", 404), ("/api/events?n=x", 400)):
            _, resp = get(app.port, path)
            assert resp.status == code, path
        conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=5)
        conn.request("POST", "/api/status", body=b"{}")
        assert conn.getresponse().status == 405


def test_no_jpeg_is_encoded_while_nobody_watches():
    with appliance(stop_at_frame=40) as app:
        app.thread.join(30)
        assert not app.thread.is_alive() and app.last_frame >= 40
        assert app.hub.encoded == 0


class Reader(threading.Thread):
    """A stream client that reads parts until told to stop, counting them."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.conn, self.resp = get(port, "/stream.mjpg")
        self.frames = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set() and read_parts(self.resp, 1):
            self.frames += 1


def stuck_client(port):
    """Asks for the stream, then never reads: its socket buffer fills and stays full."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock


def test_ten_clients_all_get_frames_and_a_stuck_one_holds_up_nothing():
    with appliance() as app:
        clients = [Reader(app.port) for _ in range(10)]
        blocker = stuck_client(app.port)  # its socket buffer fills and stays full

        def stop_once_all_served(result, stats) -> None:  # frame 120 and three frames each, however busy the machine
            if result.frame >= 120 and min(c.frames for c in clients) >= 3:
                app.stop.set()

        app.pipeline.hooks.append(stop_once_all_served)
        for c in clients:
            c.start()
        app.thread.join(120)
        # the loop played past frame 120 and stopped once every reader had frames: it never waited for the stuck one
        finished = not app.thread.is_alive() and app.stop.is_set()
        for c in clients:
            c.done.set()
            c.conn.close()
        blocker.close()
    assert finished and app.last_frame >= 120  # a busy machine may drop a frame or two on the way: no matter
    assert min(c.frames for c in clients) >= 3


def test_client_cap_answers_503():
    with appliance(max_clients=2) as app:
        first, second = Reader(app.port), Reader(app.port)
        _, third = get(app.port, "/stream.mjpg")
        assert (first.resp.status, second.resp.status, third.status) == (200, 200, 503)
        first.conn.close()
        second.conn.close()


def test_basic_auth_on_every_route_but_healthz():
    good = "Basic " + base64.b64encode(b"viewer:s3cret").decode()
    bad = "Basic " + base64.b64encode(b"viewer:guess").decode()
    with appliance(password="s3cret", logins=LoginLimiter(limit=100)) as app:  # the limit has tests of its own
        for path in ("/", "/api/status", "/snapshot.jpg", "/stream.mjpg", "/api/events"):
            assert get(app.port, path)[1].status == 401, path
            assert get(app.port, path, {"Authorization": bad})[1].status == 401, path
            assert get(app.port, path, {"Authorization": "Basic %%%"})[1].status == 401, path
        _, resp = get(app.port, "/", {"Authorization": good})
        assert resp.status == 200 and b"pi-emotion" in resp.read()
        assert get(app.port, "/api/status", {"Authorization": good})[1].status == 200
        assert get(app.port, "/healthz")[1].status == 200


def test_status_reports_dropped_frames_while_running():
    source = StallingSource(150)  # a camera that delivers 150 frames as fast as it can, then hangs
    gate, held = threading.Event(), threading.Event()

    class SlowOutput:
        needs_image = False

        def write(self, image, result):
            held.set()
            gate.wait(30)  # the first frame takes "long": the camera's frames pile up meanwhile

        def close(self):
            pass

    app = Appliance(source)
    app.pipeline.outputs.append(SlowOutput())
    app.server.start()
    app.thread.start()  # not app.start(): that waits for a first frame the slow output holds up
    try:
        assert held.wait(30) and wait_until(lambda: source.left == 0)
        gate.set()
        assert wait_until(lambda: app.pipeline.stats.frames >= 2)
        _, resp = get(app.port, "/api/status")
        status = json.loads(resp.read())
        assert app.thread.is_alive()  # still running
        assert status["dropped"] > 100 and status["frames"] + status["dropped"] <= 150
    finally:
        app.close()


def test_snapshot_answers_503_once_frames_have_stopped():
    with appliance(stale_after=0.5) as app:
        assert wait_until(lambda: get(app.port, "/snapshot.jpg")[1].status == 200)  # while frames come
        app.stop.set()
        app.thread.join(30)  # no more frames; the server stays up
        assert wait_until(lambda: get(app.port, "/healthz")[1].status == 503)
        _, resp = get(app.port, "/snapshot.jpg")
        assert resp.status == 503 and b"no current frame" in resp.read()


def test_event_stream_clients_are_capped_and_refused_ones_hold_no_thread():
    with appliance(max_clients=2) as app:
        threads = threading.active_count()
        subscribers = []
        for _ in range(2):
            conn, resp = get(app.port, "/api/events", {"Accept": "text/event-stream"})
            assert resp.status == 200 and resp.fp.readline().startswith(b"data: ")
            subscribers.append(conn)
        refused = []
        for _ in range(40):
            sock = socket.create_connection(("127.0.0.1", app.port), timeout=30)
            sock.sendall(b"GET /api/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
            refused.append(sock.recv(4096).split(b" ")[1])  # the status line comes first
            sock.close()
        assert refused == [b"503"] * 40 and app.hub.event_clients == 2
        assert wait_until(lambda: threading.active_count() <= threads + 2, timeout=30), threading.active_count()
        for conn in subscribers:
            conn.close()


def test_healthz_turns_503_when_frames_stop():
    app = Appliance(StallingSource(5), stale_after=0.3).start()
    try:
        assert wait_until(lambda: get(app.port, "/healthz")[1].status == 503)
        assert 1 <= app.pipeline.stats.frames <= 5
    finally:
        app.close()


def test_stream_address_parsing():
    assert parse_address("8000") == ("127.0.0.1", 8000)
    assert parse_address("0.0.0.0:8080") == ("0.0.0.0", 8080)
    assert parse_address("[::1]:9000") == ("::1", 9000)
    with pytest.raises(UserError):
        parse_address("0.0.0.0:http")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


needs_chromium = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                    reason="Debian's chromium and chromium-driver are not installed "
                                           "(.ci/run installs them)")


def chromium(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,800"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    return driver


@needs_chromium
def test_page_in_headless_chromium_shows_stream_faces_and_fps(tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    artifacts = ROOT / "tests" / "artifacts"
    artifacts.mkdir(exist_ok=True)
    driver = chromium(tmp_path)
    try:
        with appliance() as app:
            driver.get(f"http://127.0.0.1:{app.port}/")
            wait = WebDriverWait(driver, 30)
            wait.until(lambda d: d.execute_script("return document.getElementById('stream').naturalWidth") > 0)
            wait.until(lambda d: float(d.find_element("id", "fps").text.replace("–", "0") or 0) > 0)
            wait.until(lambda d: "%" in d.find_element("id", "faces").text)
            first_faces = driver.find_element("id", "faces").text
            wait.until(lambda d: d.execute_script(
                "return document.getElementById('chart').getContext('2d')"
                ".getImageData(0, 0, 600, 180).data.some(v => v > 0)"))
            width = driver.execute_script("return document.getElementById('stream').naturalWidth")
            count = driver.find_element("id", "count").text
            heading = driver.find_element("tag name", "h1").text
            box = driver.execute_script("const r = document.getElementById('stream').getBoundingClientRect();"
                                        "return [r.left, r.top, r.width, r.height, window.devicePixelRatio];")
            driver.save_screenshot(str(artifacts / "page.png"))
    finally:
        driver.quit()
    assert width == 640
    assert any(e in first_faces for e in ("happy", "neutral", "sad", "angry", "fear", "surprise", "disgust"))
    assert count in ("0 faces", "1 face") or count.endswith(" faces") and int(count.split()[0]) > 1, count
    assert heading == f"pi-emotion {DEVICE}"
    shot = cv2.imread(str(artifacts / "page.png"))
    left, top, w, h, scale = box
    assert w > 100 and h > 75  # the picture takes room on the page
    seen = shot[round(top * scale):round((top + h) * scale), round(left * scale):round((left + w) * scale)]
    assert seen.size and seen.std() > 20  # and shows a picture there, not a blank box


def test_history_is_kept_by_the_appliance_with_every_shown_label():
    with appliance() as app:
        assert wait_until(lambda: len(json.loads(get(app.port, "/api/history")[1].read())["intervals"]) >= 2)
        _, response = get(app.port, "/api/history")
        history = json.loads(response.read())
    assert response.status == 200 and response.headers["Content-Type"] == "application/json"
    assert history["labels"][-1] == "uncertain" and len(history["labels"]) == 8
    assert set(history["colours"]) == set(history["labels"])
    assert len(set(history["colours"].values())) == 8  # no two labels share a colour
    seen = [i for i in history["intervals"] if i["face_frames"]]
    assert seen, history["intervals"]
    for interval in seen:  # every counted label is one the chart draws: its bars reach 100 %
        assert set(interval["counts"]) <= set(history["labels"])
        assert abs(sum(interval["shares"].values()) - 100) < 1
    ends = [i["ts"] for i in history["intervals"]]
    assert ends == sorted(ends) and all(e.endswith("Z") for e in ends)


@needs_chromium
def test_page_after_a_reload_shows_history_legend_and_saves_a_named_snapshot(tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium(tmp_path)
    try:
        with appliance() as app:
            assert wait_until(lambda: len(json.loads(get(app.port, "/api/history")[1].read())["intervals"]) >= 2)
            driver.get(f"http://127.0.0.1:{app.port}/")
            wait = WebDriverWait(driver, 30)
            wait.until(lambda d: d.execute_script("return kept !== null"))
            driver.refresh()  # a reload: the chart is drawn from the appliance's history at once
            wait.until(lambda d: d.execute_script("return kept !== null && kept.intervals.length >= 2"))
            drawn = driver.execute_script(
                "const c = document.getElementById('chart'); draw();"
                "const d = c.getContext('2d').getImageData(c.width * 0.7, 0, c.width * 0.3, c.height * 0.85).data;"
                "const hex = (i) => '#' + [d[i], d[i+1], d[i+2]].map(v => v.toString(16).padStart(2, '0')).join('');"
                "const palette = new Set(Object.values(kept.colours));"
                "let n = 0; for (let i = 0; i < d.length; i += 4) if (palette.has(hex(i))) n++; return n")
            legend = driver.execute_script(
                "return [...document.querySelectorAll('#legend [data-label]')].map(e => e.dataset.label)")
            title = driver.title
            plurals = driver.execute_script("return [plural(0, 'face', 'faces'), plural(1, 'face', 'faces'),"
                                            " plural(2, 'face', 'faces')]")
            wait.until(lambda d: d.find_element("id", "stream").get_property("naturalWidth") > 0)
            driver.find_element("id", "snapshot").click()
            wait.until(lambda d: list(tmp_path.glob("*.jpg")))
            saved = next(tmp_path.glob("*.jpg"))
            wait.until(lambda d: cv2.imread(str(saved)) is not None)
            driver.find_element("id", "fullscreen").click()
            wait.until(lambda d: d.execute_script("return document.fullscreenElement?.id") == "stream")
    finally:
        driver.quit()
    assert drawn > 100  # the newest part of the chart has bars in it right after the reload
    assert legend == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "uncertain"]
    assert title == f"pi-emotion · {DEVICE}"
    assert plurals == ["0 faces", "1 face", "2 faces"]
    assert saved.name.startswith("pi-emotion_hall-cam_2") and cv2.imread(str(saved)).shape[1] == 640


def test_a_network_stream_without_a_password_is_refused_at_start(tmp_path):
    assert_user_error(run_cli("--source", SAMPLE, "--stream", "0.0.0.0:8000"), "without a password",
                      "stream_allow_anonymous")
    # a password, or anonymity asked for in so many words, gets past the check (to the missing source)
    missing = tmp_path / "missing.mp4"
    with_password = {**interactive_env(), "PI_EMOTION_STREAM_PASSWORD": "s3cret"}
    for args, env in ((["--stream", "0.0.0.0:8000", "--stream-allow-http"], with_password),
                      (["--stream", "0.0.0.0:8000", "--stream-allow-anonymous", "--stream-allow-http"], None),
                      (["--stream", "8000"], None)):
        assert_user_error(run_cli("--source", missing, *args, **({"env": env} if env else {})), "not found")
