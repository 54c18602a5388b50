"""``pi-emotion bench --soak N``: run N frames of the looping sample with the stream on and
clients coming and going, sampling resident memory, open files and threads, which must
stay flat after the warm-up. Prints the samples and a verdict."""

from __future__ import annotations

import http.client
import json
import threading

from pi_emotion.bench.pipeline import open_fds, rss_mb, served_pipeline

SAMPLES = 10


def _churn(port: int, stop: threading.Event, counts: dict) -> None:
    """Clients that watch a few frames and leave, one after another, plus status and event reads."""
    while not stop.is_set():
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/stream.mjpg")
            resp = conn.getresponse()
            resp.read(200_000)
            resp.close()
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/events?n=20")
            conn.getresponse().read()
            conn.close()
            counts["clients"] += 1
        except OSError:
            counts["errors"] += 1


def soak(settings, frames: int, churners: int = 3) -> dict:
    samples: list[dict] = []
    every = max(1, frames // SAMPLES)

    def sample(result, stats) -> None:
        if stats.frames % every == 0:
            samples.append({"frame": stats.frames, "rss_mb": round(rss_mb(), 1), "fds": open_fds(),
                            "threads": threading.active_count()})

    stop = threading.Event()
    counts = {"clients": 0, "errors": 0}
    with served_pipeline(settings, frames) as (pipeline, hub, port):
        pipeline.hooks.append(sample)
        workers = [threading.Thread(target=_churn, args=(port, stop, counts), daemon=True) for _ in range(churners)]
        for w in workers:
            w.start()
        try:
            pipeline.run()
        finally:
            stop.set()
            for w in workers:
                w.join(10)
    settled = samples[len(samples) // 3:]  # after warm-up
    growth = {key: round(max(s[key] for s in settled) - min(s[key] for s in settled), 1) for key in ("rss_mb", "fds")}
    flat = growth["rss_mb"] <= 10 and growth["fds"] <= churners * 2 + 4
    return {"frames": pipeline.stats.frames, "clients_served": counts["clients"], "client_errors": counts["errors"],
            "samples": samples, "growth_after_warmup": growth, "flat": flat}


def format_soak(r: dict) -> str:
    lines = [f"{'frame':>8}{'rss MB':>9}{'fds':>6}{'threads':>9}"]
    lines += [f"{s['frame']:>8}{s['rss_mb']:>9}{s['fds']:>6}{s['threads']:>9}" for s in r["samples"]]
    lines.append(f"{r['frames']} frames, {r['clients_served']} stream clients came and went "
                 f"({r['client_errors']} errors); growth after warm-up: {r['growth_after_warmup']['rss_mb']} MB, "
                 f"{r['growth_after_warmup']['fds']} fds -> {'FLAT' if r['flat'] else 'GROWING'}")
    return "\n".join(lines)


def print_soak(r: dict, as_json: bool) -> None:
    print(json.dumps(r) if as_json else format_soak(r))
