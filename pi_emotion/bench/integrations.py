"""What MQTT and /metrics cost the frame loop, and how fast a day of events becomes a report: numbers, printed.

Frame-loop cost: the real pipeline on the looping sample, measured as process CPU per frame
(every thread: the loop, paho's, the MQTT output's, the HTTP server's) and as the loop's
own "output" stage, in four set-ups: nothing, MQTT to a local broker, /metrics scraped by
another process, and both. Rounds are interleaved and the median kept, since the machine
is shared. Report speed: a generated day of events (one line a second with people coming
and going, plus an hour at 30 fps) rendered by ``pi-emotion report``.

``pi-emotion bench --integrations [--frames N]``
"""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, closing
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from pi_emotion.errors import UserError

WARMUP = 30
MQTT_THREADS = ("mqtt-output", "paho-mqtt-client")  # the threads doing MQTT work, by name
SCRAPES = 100  # /metrics renderings timed for the CPU cost of one scrape
SCRAPER = """
import http.client, sys, time
port, period = int(sys.argv[1]), 1 / float(sys.argv[2])
while True:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/metrics")
    conn.getresponse().read()
    conn.close()
    time.sleep(period)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_broker(stack: ExitStack, scratch: Path) -> str:
    """A throw-away Mosquitto on loopback for the measurement; its HOST:PORT."""
    mosquitto = shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")
    if mosquitto is None:
        raise UserError("bench: MQTT cost needs a broker: install mosquitto, or give --mqtt HOST[:PORT]")
    port = _free_port()
    conf = scratch / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n")
    proc = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stack.callback(proc.wait, 10)
    stack.callback(proc.terminate)
    for _ in range(100):  # until it listens
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    return f"127.0.0.1:{port}"


def _threads_cpu(*prefixes: str) -> float:
    """CPU seconds used so far by this process's live threads whose names start with one of ``prefixes``."""
    return sum(time.clock_gettime(time.pthread_getcpuclockid(t.ident)) for t in threading.enumerate()
               if t.name.startswith(prefixes) and t.ident is not None)


def _one_run(settings, frames: int, mqtt: str, scrape_hz: float) -> dict:
    from pi_emotion.integrations.stream.hub import FrameHub
    from pi_emotion.integrations.stream.server import StreamServer
    from pi_emotion.runtime.app import build_classifier, build_detector, build_mqtt, build_pipeline, metrics_renderer
    from pi_emotion.sources import open_source
    from pi_emotion.sources.base import SourceSettings

    run_settings = dataclasses.replace(settings, mqtt=mqtt, device_name="bench")
    with ExitStack() as stack:
        source = stack.enter_context(closing(open_source(SourceSettings(settings.source, loop=True))))
        classifier = build_classifier(run_settings)
        detector = build_detector(run_settings)
        outputs = []
        mqtt_output = build_mqtt(run_settings, classifier, detector)
        if mqtt_output is not None:
            outputs.append(stack.enter_context(closing(mqtt_output)))
            mqtt_output.connection.connected.wait(10)
        pipeline = build_pipeline(run_settings, source, detector, classifier, outputs)
        pipeline.max_frames = WARMUP
        pipeline.run()
        if scrape_hz:
            hub = stack.enter_context(closing(FrameHub()))
            server = StreamServer(hub, ("127.0.0.1", 0), metrics=metrics_renderer(pipeline, source, classifier))
            server.start()
            stack.callback(server.close)
            scraper = subprocess.Popen([sys.executable, "-c", SCRAPER, str(server.address[1]), str(scrape_hz)])
            stack.callback(scraper.wait)
            stack.callback(scraper.kill)
        pipeline.max_frames = pipeline.stats.frames + frames
        mqtt0 = _threads_cpu(*MQTT_THREADS)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        stats = pipeline.run()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        mqtt_cpu = _threads_cpu(*MQTT_THREADS) - mqtt0
        output_ms = np.fromiter(stats.stages.recent["output"], float)[-frames:]
        scrape_ms = 0.0
        if scrape_hz:  # one scrape's rendering, timed on its own
            render = metrics_renderer(pipeline, source, classifier)
            start = time.process_time()
            for _ in range(SCRAPES):
                render()
            scrape_ms = 1000 * (time.process_time() - start) / SCRAPES
    return {"cpu_ms_per_frame": 1000 * cpu / frames, "fps": frames / wall,
            "output_median_ms": float(np.median(output_ms)), "output_p95_ms": float(np.percentile(output_ms, 95)),
            "mqtt_threads_ms_per_frame": 1000 * mqtt_cpu / frames, "scrape_cpu_ms": scrape_ms}


def frame_loop_cost(settings, frames: int, mqtt: str, scrape_hz: float, rounds: int = 3) -> list[dict]:
    """Median over interleaved rounds of each set-up's CPU per frame and loop-side output time."""
    setups = [("nothing", "", 0.0), ("MQTT", mqtt, 0.0), (f"/metrics at {scrape_hz:g} Hz", "", scrape_hz),
              ("both", mqtt, scrape_hz)]
    samples: dict[str, list[dict]] = {name: [] for name, _, _ in setups}
    for _ in range(rounds):
        for name, broker, hz in setups:
            samples[name].append(_one_run(settings, frames, broker, hz))
    rows = []
    for name, runs in samples.items():
        row = {"setup": name, **{k: round(float(np.median([r[k] for r in runs])), 4) for k in runs[0]}}
        rows.append(row)
    base = rows[0]["cpu_ms_per_frame"]
    for row in rows:
        row["extra_cpu_ms_per_frame"] = round(row["cpu_ms_per_frame"] - base, 4)
    return rows


def write_day_of_events(path: Path, hours: float = 24.0, dense_hours: float = 1.0, seed: int = 1) -> int:
    """A realistic record: one line a second with people coming and going, and ``dense_hours`` at 30 fps."""
    rng = random.Random(seed)
    labels = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    weights = (3, 1, 2, 25, 8, 6, 55)
    start = datetime(2026, 11, 20, 0, 0, tzinfo=UTC).timestamp()
    dense_from, dense_to = 12 * 3600, 12 * 3600 + dense_hours * 3600
    faces: dict[int, list] = {}  # track -> [emotion, box]
    next_track, t, frame, lines = 1, 0.0, 0, 0
    with path.open("w") as fh:
        while t < hours * 3600:
            busy = 0.6 if 9 * 3600 <= t % 86400 <= 18 * 3600 else 0.1
            step = 1 / 30 if dense_from <= t < dense_to else 1.0
            if rng.random() < busy * step / 20 and len(faces) < 4:
                faces[next_track] = [rng.choices(labels, weights)[0], [rng.randrange(500), rng.randrange(300), 96, 96]]
                next_track += 1
            for track in list(faces):
                if rng.random() < step / 30:
                    del faces[track]
                elif rng.random() < step / 10:
                    faces[track][0] = rng.choices(labels, weights)[0]
            out = []
            for track, (emotion, box) in faces.items():
                score = round(rng.uniform(0.4, 0.95), 4)
                scores = {label: (score if label == emotion else round((1 - score) / 6, 4)) for label in labels}
                out.append({"box": box, "emotion": emotion, "score": score, "scores": scores, "track": track,
                            "raw_emotion": emotion, "raw_score": score})
            ts = datetime.fromtimestamp(start + t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            fh.write(json.dumps({"frame": frame, "t": round(t, 4), "ts": ts, "faces": out},
                                separators=(",", ":")) + "\n")
            frame, lines, t = frame + 1, lines + 1, t + step
    return lines


def report_speed(hours: float, dense_hours: float) -> dict:
    """Seconds ``pi-emotion report`` takes on a generated record (its own process, as a user runs it)."""
    with tempfile.TemporaryDirectory() as scratch:
        events = Path(scratch) / "events.jsonl"
        lines = write_day_of_events(events, hours, dense_hours)
        size = events.stat().st_size
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pi_emotion", "report", str(events), "-o",
                               str(Path(scratch) / "report.html"), "--png", str(Path(scratch) / "report.png")],
                              capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            raise UserError(f"bench: report failed: {proc.stderr.strip()}")
    return {"hours": hours, "dense_hours": dense_hours, "lines": lines, "mb": round(size / 1e6, 1),
            "seconds": round(seconds, 2), "report_says": proc.stdout.strip()}


def integrations(settings, frames: int, rounds: int = 3, scrape_hz: float = 10.0, report_hours: float = 24.0,
                 mqtt: str = "") -> dict:
    """Both measurements; ``mqtt`` names a broker, else a local mosquitto is started for the run."""
    with ExitStack() as stack, tempfile.TemporaryDirectory() as scratch:
        broker = mqtt or local_broker(stack, Path(scratch))
        rows = frame_loop_cost(settings, frames, broker, scrape_hz, rounds)
    return {"source": settings.source, "frames": frames, "rounds": rounds, "frame_loop": rows,
            "report": report_speed(report_hours, 1.0)}


def format_integrations(r: dict) -> str:
    speed = r["report"]
    lines = [f"frame loop on {r['source']}, {r['frames']} frames per run, median of {r['rounds']} interleaved rounds",
             "setup                 CPU ms/frame   extra     fps   loop output ms      MQTT threads   one scrape",
             "                      (process)                        median / p95      ms/frame       CPU ms"]
    for row in r["frame_loop"]:
        lines.append(f"  {row['setup']:<20}{row['cpu_ms_per_frame']:>10.3f}{row['extra_cpu_ms_per_frame']:>+9.3f}"
                     f"{row['fps']:>8.1f}   {row['output_median_ms']:.4f} / {row['output_p95_ms']:.4f}"
                     f"{row['mqtt_threads_ms_per_frame']:>11.4f}{row['scrape_cpu_ms']:>13.3f}")
    lines.append(f"report: {speed['lines']:,} lines ({speed['mb']} MB, {speed['hours']:g} h with "
                 f"{speed['dense_hours']:g} h at 30 fps) -> HTML and PNG in {speed['seconds']} s")
    return "\n".join(lines)
