"""MQTT and Home Assistant against a real Mosquitto broker, with the appliance as a real process."""

import json
import shutil

import pytest
from broker import ApplianceProcess, Broker, Subscriber, free_port, make_certificates, needs_mosquitto, payload
from conftest import assert_user_error, frame_lines, run_cli

from pi_emotion.config import Settings
from pi_emotion.perception.modelmeta import FER2013_LABELS

pytestmark = needs_mosquitto
ENTITIES = 2 + len(FER2013_LABELS) + 1 + 3  # faces, dominant, shares of each label and "uncertain", fps, someone,
# and the face events


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path).start()
    yield b
    b.stop()


@pytest.fixture
def appliances():
    started = []
    yield lambda *args, **kwargs: started.append(ApplianceProcess(*args, **kwargs)) or started[-1]
    for app in started:
        app.kill()


def configs_of(messages, node):
    return {m.topic: payload(m) for m in messages if f"/{node}/" in m.topic and m.payload}


def test_discovery_state_events_and_availability(broker, appliances):
    sub = Subscriber(broker.port, "homeassistant/#", "pi-emotion/#")
    app = appliances("--mqtt", f"127.0.0.1:{broker.port}", "--device-name", "Lab Cam 1")
    node = "pi-emotion-lab-cam-1"
    found = sub.wait(lambda m: m.topic.startswith("homeassistant/") and f"/{node}/" in m.topic, count=ENTITIES)
    configs = configs_of(found, node)
    assert len(configs) == ENTITIES
    components = {topic.split("/")[1] for topic in configs}
    assert components == {"sensor", "binary_sensor", "event"}
    unique = {c["unique_id"] for c in configs.values()}
    assert len(unique) == ENTITIES
    for topic, config in configs.items():
        assert topic.endswith("/config")
        assert config["availability_topic"] == "pi-emotion/lab-cam-1/availability"
        if "/event/" in topic:
            assert config["state_topic"] == "pi-emotion/lab-cam-1/events" and "expire_after" not in config
            assert config["event_types"] == ["appear", "emotion", "leave"]
        else:
            assert config["state_topic"] == "pi-emotion/lab-cam-1/state"
            assert config["expire_after"] == 30  # a hung loop with a live connection turns them unavailable
        assert config["device"]["identifiers"] == ["pi_emotion_lab_cam_1"]
        assert config["device"]["name"] == "Lab Cam 1"
        assert config["payload_available"] == "online" and config["payload_not_available"] == "offline"
    names = {c["name"] for c in configs.values()}
    assert {f"{label.capitalize()} share" for label in (*FER2013_LABELS, "uncertain")} <= names
    assert {"Faces in view", "Dominant emotion", "Frame rate", "Someone in view", "Face"} <= names
    (dominant,) = [c for t, c in configs.items() if t.endswith("/dominant_emotion/config")]
    assert dominant["device_class"] == "enum" and dominant["options"] == [*FER2013_LABELS, "uncertain", "nobody"]
    assert "value_json.model" in dominant["json_attributes_template"]  # not the whole state, which changes
    assert "fps" not in dominant["json_attributes_template"]  # every second: a recorder row each time
    assert all("configuration_url" not in c["device"] for c in configs.values())  # no browser view served

    sub.wait(lambda m: m.topic == "pi-emotion/lab-cam-1/availability" and m.payload == b"online")
    state = payload(sub.wait(lambda m: m.topic == "pi-emotion/lab-cam-1/state" and payload(m)["frames"] > 1)[0])
    assert state["mode"] == "live" and state["faces_in_view"] >= 1 and state["someone_in_view"] is True
    assert state["dominant_emotion"] in FER2013_LABELS
    assert list(state["shares"]) == [*FER2013_LABELS, "uncertain"]
    assert abs(sum(state["shares"].values()) - 100) < 1
    assert state["model"] == "emotion.tflite" and state["detector"] == Settings().detector
    event = payload(sub.wait(lambda m: m.topic == "pi-emotion/lab-cam-1/events")[0])
    assert event["type"] == "appear" and isinstance(event["track"], int) and event["ts"].endswith("Z")
    assert set(event) <= {"type", "track", "t", "ts", "emotion", "score", "previous", "duration_s"}  # no images
    assert not any(m.retain for m in sub.messages if m.topic.endswith("/events"))

    # A subscriber that comes later (Home Assistant restarting) gets the retained state, availability and configs.
    late = Subscriber(broker.port, "pi-emotion/lab-cam-1/#", f"homeassistant/+/{node}/+/config")
    late.sync()
    retained = {m.topic: m for m in late.messages if m.retain}
    assert retained["pi-emotion/lab-cam-1/availability"].payload == b"online"
    assert payload(retained["pi-emotion/lab-cam-1/state"])["mode"] == "live"
    assert len([t for t in retained if t.endswith("/config")]) == ENTITIES

    # Home Assistant announcing itself gets the configs again.
    before = len(sub.messages)
    late.client.publish("homeassistant/status", "online", qos=1)
    sub.wait(lambda m: m.topic.endswith("/config") and f"/{node}/" in m.topic, count=ENTITIES, after=before)
    late.close()

    assert app.stop() == 0
    sub.wait(lambda m: m.topic == "pi-emotion/lab-cam-1/availability" and m.payload == b"offline")
    sub.close()


def test_last_will_says_offline_after_sigkill(broker, appliances):
    sub = Subscriber(broker.port, "pi-emotion/+/availability")
    app = appliances("--mqtt", f"127.0.0.1:{broker.port}", "--device-name", "killed")
    sub.wait(lambda m: m.payload == b"online")
    app.kill()  # SIGKILL: no code of ours runs; the broker publishes the Last Will
    offline = sub.wait(lambda m: m.payload == b"offline")[0]
    assert offline.topic == "pi-emotion/killed/availability"
    late = Subscriber(broker.port, "pi-emotion/killed/availability")
    late.sync()
    assert [m.payload for m in late.messages if m.retain] == [b"offline"]
    late.close()
    sub.close()


def test_reconnects_after_the_broker_restarts_and_loses_no_frames(broker, appliances, tmp_path):
    events = tmp_path / "events.jsonl"
    sub = Subscriber(broker.port, "pi-emotion/restart/#")
    app = appliances("--mqtt", f"127.0.0.1:{broker.port}", "--device-name", "restart", "--events", events,
                     realtime=False)
    sub.wait(lambda m: m.topic.endswith("/availability") and m.payload == b"online")
    broker.stop()
    app.log.wait(lambda line: "MQTT connection to" in line and "lost" in line)
    frames_when_lost = len(frame_lines(events))
    broker.start()  # same port, a fresh broker with nothing retained
    online = len(sub.messages)
    sub.wait(lambda m: m.topic.endswith("/availability") and m.payload == b"online", after=online)
    sub.wait(lambda m: m.topic.endswith("/state") and payload(m)["frames"] > frames_when_lost, after=online)
    assert app.stop() == 0
    lines = [json.loads(line) for line in frame_lines(events)]
    assert [line["frame"] for line in lines] == list(range(len(lines)))  # every frame, in order, none missing
    summary = "\n".join(app.out.lines)
    assert f"frames      {len(lines)} in" in summary
    assert app.log.count(lambda line: "lost" in line) == 1
    sub.close()


def test_a_fresh_broker_that_kept_nothing_gets_the_discovery_configs_again(broker, appliances):
    """Home Assistant subscribing after a broker restart must still find the device (retained configs)."""
    node = "pi-emotion-fresh"
    sub = Subscriber(broker.port, "pi-emotion/fresh/availability", "homeassistant/#")
    appliances("--mqtt", f"127.0.0.1:{broker.port}", "--device-name", "fresh")
    sub.wait(lambda m: m.topic.startswith("homeassistant/") and f"/{node}/" in m.topic, count=ENTITIES)
    broker.stop()  # once the first broker has every config: none is still on its way to be sent again
    broker.start()  # persistence off: nothing retained survives
    restarted = len(sub.messages)
    sub.wait(lambda m: m.topic.startswith("homeassistant/") and f"/{node}/" in m.topic, count=ENTITIES,
             after=restarted)  # announced again to the fresh broker
    late = Subscriber(broker.port, "homeassistant/#")  # Home Assistant starting now
    late.sync()
    configs = configs_of([m for m in late.messages if m.retain], node)
    assert len(configs) == ENTITIES
    late.close()
    sub.close()


class SteppedTime:
    """paho's clock and its sleep, stepped by hand: a long outage without waiting for it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_long_outage_backs_off_to_a_minute_and_holds_no_messages(monkeypatch):
    import paho.mqtt.client as paho

    from pi_emotion.integrations.mqtt.connection import MqttConnection
    from pi_emotion.integrations.mqtt.settings import MqttSettings

    clock = SteppedTime()
    monkeypatch.setattr(paho, "time_func", clock.time)
    monkeypatch.setattr(paho.time, "sleep", clock.sleep)
    connection = MqttConnection(MqttSettings.parse(f"127.0.0.1:{free_port()}", "away"), lambda: None)
    waits = []
    for _ in range(40):  # forty failed attempts: about half an hour of outage
        before = clock.now
        connection._client._reconnect_wait()
        waits.append(clock.now - before)
    assert waits[:7] == [1, 2, 4, 8, 16, 32, 60] and set(waits[7:]) == {60}
    for i in range(10_000):  # what a busy outage would send (QoS 1 is what paho would keep): dropped, not piled up
        connection.publish("pi-emotion/away/state", f"{i}", retain=True, qos=1)
    assert len(connection._client._out_messages) == 0


def test_the_frame_loop_never_waits_for_a_stuck_mqtt_output(monkeypatch):
    import threading

    from pi_emotion.integrations.mqtt import output
    from pi_emotion.integrations.mqtt.settings import MqttSettings
    from pi_emotion.results.frame import FrameResult

    gate = threading.Event()
    monkeypatch.setattr(output.MqttOutput, "_handle", lambda self, at, result: gate.wait())
    mqtt = output.MqttOutput(MqttSettings.parse(f"127.0.0.1:{free_port()}", "stuck"), FER2013_LABELS, {})
    try:
        for i in range(output.QUEUE + 500):
            mqtt.write(None, FrameResult(i, i / 30))  # returns at once, full queue or not
        assert output.QUEUE + 500 - mqtt.dropped in (output.QUEUE, output.QUEUE + 1)  # + the one being handled
    finally:
        gate.set()
        mqtt.close()


def test_five_appliances_on_one_broker_are_five_devices(broker, appliances):
    sub = Subscriber(broker.port, "homeassistant/#", "pi-emotion/+/availability")
    for i in range(5):
        appliances("--mqtt", f"127.0.0.1:{broker.port}", "--device-name", f"room {i}")
    online = sub.wait(lambda m: m.topic.endswith("/availability") and m.payload == b"online", count=5)
    assert sorted({m.topic for m in online}) == [f"pi-emotion/room-{i}/availability" for i in range(5)]
    configs = sub.wait(lambda m: m.topic.endswith("/config"), count=5 * ENTITIES)
    devices = {}
    for m in configs:
        config = payload(m)
        devices.setdefault(config["device"]["identifiers"][0], set()).add(config["unique_id"])
    assert len(devices) == 5
    assert all(len(ids) == ENTITIES for ids in devices.values())
    assert len(set().union(*devices.values())) == 5 * ENTITIES
    sub.close()


def test_unreachable_broker_is_logged_once_and_retried(tmp_path, appliances):
    reserved = Broker(tmp_path)  # its port, no broker listening yet
    events = tmp_path / "events.jsonl"
    app = appliances("--mqtt", f"127.0.0.1:{reserved.port}", "--device-name", "patient", "--events", events)
    app.log.wait(lambda line: "cannot be reached" in line)
    reserved.start()
    try:
        sub = Subscriber(reserved.port, "pi-emotion/patient/availability")
        sub.wait(lambda m: m.payload == b"online")  # it kept trying, and got there
        assert app.stop() == 0
        sub.close()
    finally:
        reserved.stop()
    mqtt_lines = [line for line in app.log.lines if "MQTT" in line and not line.startswith("INFO")]
    assert len(mqtt_lines) == 1, app.log.lines
    assert events.stat().st_size > 0


def test_bad_credentials_give_one_error_line_and_the_appliance_runs_on(tmp_path, appliances):
    broker = Broker(tmp_path, users={"cam": "right"}).start()
    try:
        events = tmp_path / "events.jsonl"
        app = appliances("--mqtt", f"127.0.0.1:{broker.port}", "--mqtt-user", "cam", "--device-name", "locked",
                         "--events", events, "--max-frames", 150, env={"PI_EMOTION_MQTT_PASSWORD": "wrong"})
        assert app.proc.wait(120) == 0  # ran to its end
        assert len(frame_lines(events)) == 150
        errors = [line for line in app.log.lines if line.startswith("ERROR")]
        assert len(errors) == 1 and "refused the login" in errors[0] and "mqtt_user" in errors[0], app.log.lines
        assert "wrong" not in "\n".join(app.log.lines)  # the password is never logged
        assert broker.log.count(lambda line: "not authorised" in line) == 1  # no retries with a bad password

        good = appliances("--mqtt", f"127.0.0.1:{broker.port}", "--mqtt-user", "cam", "--device-name", "locked",
                          env={"PI_EMOTION_MQTT_PASSWORD": "right"})
        sub = Subscriber(broker.port, "pi-emotion/locked/availability", user="cam", password="right")
        sub.wait(lambda m: m.payload == b"online")
        sub.close()
        assert good.stop() == 0
    finally:
        broker.stop()


def test_mqtt_forget_removes_the_device(broker, appliances):
    sub = Subscriber(broker.port, "homeassistant/#")
    app = appliances("--mqtt", f"127.0.0.1:{broker.port}", "--device-name", "leaving")
    sub.wait(lambda m: m.topic.endswith("/config"), count=ENTITIES)
    assert app.stop() == 0
    sub.close()
    proc = run_cli("mqtt-forget", "--mqtt", f"127.0.0.1:{broker.port}", "--device-name", "leaving")
    assert proc.returncode == 0, proc.stderr
    assert "leaving" in proc.stdout
    after = Subscriber(broker.port, "homeassistant/#", "pi-emotion/#")
    after.sync()
    assert [m.topic for m in after.messages if m.retain and m.payload] == []
    after.close()


def test_mqtt_forget_without_a_broker_is_a_clear_error():
    assert_user_error(run_cli("mqtt-forget", "--mqtt", f"127.0.0.1:{free_port()}", "--device-name", "x"),
                      "cannot be reached")
    assert_user_error(run_cli("mqtt-forget", "--device-name", "x"), "no broker")


def test_bad_mqtt_settings_exit_2():
    assert_user_error(run_cli("--source", "tests/data/sample.mp4", "--mqtt", "host:notaport"), "--mqtt")
    assert_user_error(run_cli("--source", "tests/data/sample.mp4", "--mqtt", "h", "--mqtt-ca", "/nonexistent.pem"),
                      "--mqtt-ca")
    assert_user_error(run_cli("--source", "tests/data/sample.mp4", "--mqtt", "h", "--device-name", "!!"),
                      "--device-name")


def test_uninstaller_removes_the_device_it_announced(broker, appliances, tmp_path):
    import os
    import subprocess
    import sys

    from conftest import ROOT

    deploy = ROOT / "deploy"
    assert subprocess.run(["bash", deploy / "install.sh", "--root", tmp_path, "--no-apt", "--no-venv"],
                          capture_output=True, timeout=60).returncode == 0
    app = tmp_path / "opt/pi-emotion/venv/bin/pi-emotion"  # the installed command, here this checkout's
    app.parent.mkdir(parents=True)
    app.write_text(f'#!/bin/sh\ncd {ROOT} && exec {sys.executable} -m pi_emotion "$@"\n')
    app.chmod(0o755)
    conf = tmp_path / "etc/pi-emotion/config.toml"
    conf.write_text(conf.read_text().replace('mqtt = ""', f'mqtt = "127.0.0.1:{broker.port}"')
                    .replace('device_name = ""', 'device_name = "gallery"'))
    sub = Subscriber(broker.port, "homeassistant/+/pi-emotion-gallery/+/config")
    appliance = appliances("--config", conf, "--stream", "")
    sub.wait(lambda m: m.payload, count=ENTITIES)
    assert appliance.stop() == 0
    sub.close()
    proc = subprocess.run(["bash", deploy / "uninstall.sh", "--root", tmp_path], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert "mqtt-forget" in proc.stdout and "device 'gallery' removed" in proc.stdout
    after = Subscriber(broker.port, "homeassistant/#", "pi-emotion/#")
    after.sync()
    assert [m.topic for m in after.messages if m.retain and m.payload] == []
    after.close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_tls_with_the_brokers_ca_and_a_clear_line_without_it(tmp_path, appliances):
    ca = make_certificates(tmp_path)
    broker = Broker(tmp_path, tls=True).start()
    try:
        sub = Subscriber(broker.port, "pi-emotion/+/availability", ca=ca)
        trusted = appliances("--mqtt", f"127.0.0.1:{broker.port}", "--mqtt-ca", ca, "--device-name", "secure")
        online = sub.wait(lambda m: m.payload == b"online")
        assert online[0].topic == "pi-emotion/secure/availability"
        doubtful = appliances("--mqtt", f"127.0.0.1:{broker.port}", "--mqtt-tls", "--device-name", "doubtful")
        line = doubtful.log.lines[doubtful.log.wait(lambda line: "MQTT" in line and "WARNING" in line)]
        assert "certificate" in line  # the system's CAs do not know the test CA: says so, and runs on
        assert trusted.stop() == 0 and doubtful.stop() == 0
        assert not [m for m in sub.messages if "doubtful" in m.topic]
        sub.close()
    finally:
        broker.stop()


def test_the_device_links_to_the_browser_view_only_where_the_network_reaches_it():
    import socket

    from pi_emotion.integrations.mqtt.discovery import discovery_messages
    from pi_emotion.integrations.mqtt.settings import MqttSettings
    from pi_emotion.integrations.stream.server import network_url

    assert network_url(("127.0.0.1", 8000)) == ""
    assert network_url(("192.168.1.5", 8000)) == "http://192.168.1.5:8000/"
    assert network_url(("0.0.0.0", 8000)) == f"http://{socket.gethostname()}.local:8000/"
    assert network_url(("0.0.0.0", 8000), tls=True) == f"https://{socket.gethostname()}.local:8000/"
    ms = MqttSettings.parse("127.0.0.1", "cam")
    linked = [json.loads(p) for _, p in discovery_messages(ms, FER2013_LABELS, "http://cam.local:8000/")]
    assert {c["device"]["configuration_url"] for c in linked} == {"http://cam.local:8000/"}


def test_faces_in_view_counts_the_faces_shown_and_a_flash_sends_no_event(broker, tmp_path):
    """Real frames of the clip with cuts: the state never counts more faces than the frame shows, and every
    face that appears stays long enough to be worth an event."""
    events = tmp_path / "events.jsonl"
    sub = Subscriber(broker.port, "pi-emotion/steady/#")
    proc = run_cli("--source", "tests/data/steady.mp4", "--mqtt", f"127.0.0.1:{broker.port}", "--device-name",
                   "steady", "--events", events)
    assert proc.returncode == 0, proc.stderr
    sub.wait(lambda m: m.topic.endswith("/availability") and m.payload == b"offline")  # the run's last word
    shown = max(len(json.loads(line)["faces"]) for line in frame_lines(events))
    states = [payload(m) for m in sub.messages if m.topic.endswith("/state")]
    assert states and max(s["faces_in_view"] for s in states) <= shown
    face_events = [payload(m) for m in sub.messages if m.topic.endswith("/events")]
    appeared = [e for e in face_events if e["type"] == "appear"]
    left = {e["track"]: e for e in face_events if e["type"] == "leave"}
    assert len(appeared) == 6  # the clip's six people, one appear each, none twice across a cut
    assert all(left[e["track"]]["duration_s"] >= 0.5 for e in appeared)
    sub.close()
