"""/metrics over real HTTP, parsed with prometheus_client's own parser; SoC readings from sysfs-shaped files."""

import base64
import http.client
import stat
import threading

from conftest import MODEL, SAMPLE
from prometheus_client.parser import text_string_to_metric_families

from pi_emotion.config import Settings
from pi_emotion.integrations.stream.hub import FrameHub, StreamOutput
from pi_emotion.integrations.stream.server import StreamServer
from pi_emotion.perception.classify import EmotionClassifier
from pi_emotion.runtime.app import build_detector, metrics_renderer
from pi_emotion.runtime.metrics import AppCollector
from pi_emotion.runtime.pipeline import Pipeline, PipelineOptions
from pi_emotion.runtime.soc import SocSensors
from pi_emotion.runtime.stats import STAGES, RunStats
from pi_emotion.sources.video import VideoFileSource

AUTH = {"Authorization": "Basic " + base64.b64encode(b"prometheus:s3cret").decode()}


def scrape(port, headers=AUTH):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics", headers=headers)
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    return response, body


class Seen:
    """An output that keeps what the pipeline handed on: the count /metrics must agree with."""

    needs_image = False

    def __init__(self) -> None:
        self.results = []

    def write(self, image, result) -> None:
        self.results.append(result)

    def close(self) -> None:
        pass


def test_metrics_route_is_parseable_complete_and_behind_the_password():
    source = VideoFileSource(SAMPLE)
    classifier = EmotionClassifier(MODEL)
    hub = FrameHub()
    seen = Seen()
    pipeline = Pipeline(source, build_detector(Settings()), classifier, [StreamOutput(hub), seen],
                        PipelineOptions(max_frames=90))
    server = StreamServer(hub, ("127.0.0.1", 0), "s3cret", metrics=metrics_renderer(pipeline, source, classifier))
    server.start()
    try:
        pipeline.run(threading.Event())
        denied, _ = scrape(server.address[1], headers={})
        response, body = scrape(server.address[1])
    finally:
        server.close()
        hub.close()
        source.close()
    assert denied.status == 401
    assert response.status == 200 and response.getheader("Content-Type").startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body)}
    value = lambda name, suffix="": next(s.value for s in families[name].samples if s.name == name + suffix)  # noqa: E731
    assert families["pi_emotion_frames"].type == "counter" and value("pi_emotion_frames", "_total") == 90
    assert len(seen.results) == 90
    assert value("pi_emotion_faces", "_total") == sum(len(r.faces) for r in seen.results) > 0
    for name in ("errors", "dropped_frames", "corrupt_frames"):
        assert families[f"pi_emotion_{name}"].type == "counter"
    assert families["pi_emotion_fps"].type == "gauge" and value("pi_emotion_fps") > 0
    assert value("pi_emotion_faces_in_view") == len(seen.results[-1].faces)
    assert value("pi_emotion_uptime_seconds") > 0
    camera = {s.labels["state"]: s.value for s in families["pi_emotion_camera_state"].samples}
    assert camera == {"running": 1, "waiting": 0}
    info = next(s for s in families["pi_emotion_build_info"].samples)
    assert info.labels["model"] == "emotion.tflite" and info.labels["detector"] == Settings().detector
    histogram = families["pi_emotion_stage_seconds"]
    assert histogram.type == "histogram"
    counts = {s.labels["stage"]: s.value for s in histogram.samples if s.name.endswith("_count")}
    assert set(counts) == set(STAGES) and counts["detect"] == counts["classify"] == 90
    detect_buckets = [s for s in histogram.samples if s.name.endswith("_bucket") and s.labels["stage"] == "detect"]
    values = [s.value for s in detect_buckets]
    assert values == sorted(values) and detect_buckets[-1].labels["le"] == "+Inf" and values[-1] == 90
    assert "process_resident_memory_bytes" in families or "process_resident_memory" in families


def test_soc_temperature_and_throttling_from_sysfs(tmp_path):
    (tmp_path / "class/thermal/thermal_zone0").mkdir(parents=True)
    (tmp_path / "class/thermal/thermal_zone0/temp").write_text("61234\n")
    firmware = tmp_path / "devices/platform/soc/soc:firmware"
    firmware.mkdir(parents=True)
    (firmware / "get_throttled").write_text("50005\n")  # under-voltage and throttled now, both seen since boot
    soc = SocSensors(tmp_path, vcgencmd="/nonexistent/vcgencmd")
    assert soc.temperature_c() == 61.234
    assert soc.throttled() == 0x50005
    families = {f.name: f for f in text_string_to_metric_families(_render(soc))}
    assert next(iter(families["pi_emotion_soc_temperature_celsius"].samples)).value == 61.234
    now = {s.labels["condition"]: s.value for s in families["pi_emotion_throttled"].samples}
    ever = {s.labels["condition"]: s.value for s in families["pi_emotion_throttled_since_boot"].samples}
    assert now == {"under_voltage": 1, "arm_frequency_capped": 0, "throttled": 1, "soft_temperature_limit": 0}
    assert ever == {"under_voltage": 1, "arm_frequency_capped": 0, "throttled": 1, "soft_temperature_limit": 0}


def test_soc_falls_back_to_vcgencmd_and_says_nothing_where_nothing_tells(tmp_path):
    tool = tmp_path / "vcgencmd"
    tool.write_text("#!/bin/sh\ncase \"$1\" in measure_temp) echo \"temp=48.3'C\";; "
                    "get_throttled) echo throttled=0x20000;; esac\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    soc = SocSensors(tmp_path / "empty-sys", vcgencmd=str(tool))
    assert soc.temperature_c() == 48.3 and soc.throttled() == 0x20000
    nothing = SocSensors(tmp_path / "empty-sys", vcgencmd="/nonexistent/vcgencmd")
    assert nothing.temperature_c() is None and nothing.throttled() is None
    text = _render(nothing)
    assert "pi_emotion_soc_temperature" not in text and "pi_emotion_throttled" not in text


def _render(soc) -> str:
    from pi_emotion.runtime.metrics import renderer

    body, _ = renderer(AppCollector(RunStats(), lambda: False, {"version": "x"}, soc))()
    return body.decode()


def test_the_integrations_benchmark_measures_every_setup(tmp_path):
    import shutil
    from contextlib import ExitStack

    import pytest

    from pi_emotion import config
    from pi_emotion.bench.integrations import frame_loop_cost, local_broker, report_speed

    if shutil.which("mosquitto") is None and not shutil.which("/usr/sbin/mosquitto"):
        pytest.skip("Debian's mosquitto is not installed (.ci/run installs it)")
    settings = config.resolve({"source": str(SAMPLE)}, None)
    with ExitStack() as stack:
        rows = frame_loop_cost(settings, 20, local_broker(stack, tmp_path), 5.0, rounds=1)
    assert [r["setup"] for r in rows] == ["nothing", "MQTT", "/metrics at 5 Hz", "both"]
    assert all(r["cpu_ms_per_frame"] > 0 and r["fps"] > 0 for r in rows)
    # each set-up measured what it names: MQTT's threads worked only where MQTT was on, scrapes only with /metrics
    assert [r["mqtt_threads_ms_per_frame"] > 0 for r in rows] == [False, True, False, True]
    assert [r["scrape_cpu_ms"] > 0 for r in rows] == [False, False, True, True]
    assert rows[0]["extra_cpu_ms_per_frame"] == 0
    speed = report_speed(0.1, 0.02)
    assert speed["lines"] == 360 and speed["seconds"] > 0  # a line a second; the dense hour is at noon
    assert speed["report_says"].startswith("report: 360 lines from 1 file(s)"), speed["report_says"]  # read them all
