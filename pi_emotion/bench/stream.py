"""What stream viewers cost the appliance: CPU per frame with 0, 1, 10, ... viewers in another process,
over HTTP or (with a certificate in the settings) HTTPS."""

from __future__ import annotations

import subprocess
import sys
import time

from pi_emotion.bench.pipeline import served_pipeline

CLIENT_SCRIPT = """
import http.client, ssl, sys, threading
def watch():
    if sys.argv[3] == "https":  # loopback, the bench's own server: nothing to check
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
    conn.request("GET", "/stream.mjpg")
    resp = conn.getresponse()
    while resp.read(65536):
        pass
for _ in range(int(sys.argv[2])):
    threading.Thread(target=watch, daemon=True).start()
sys.stdin.read()
"""


def stream_clients_cost(settings, frames: int, counts: tuple[int, ...]) -> list[dict]:
    """CPU per frame of the appliance process with 0, 1, 10, ... viewers (in another process)."""
    rows = []
    from pi_emotion.runtime.app import stream_tls

    tls = stream_tls(settings)
    scheme = "https" if tls else "http"
    for n in counts:
        with served_pipeline(settings, frames, tls=tls) as (pipeline, hub, port):
            viewers = subprocess.Popen([sys.executable, "-c", CLIENT_SCRIPT, str(port), str(n), scheme],
                                       stdin=subprocess.PIPE)
            try:
                while hub.stream_clients < n:
                    hub.next_jpeg(0, 0.05)  # wait for the viewers to connect
                cpu0, wall0 = time.process_time(), time.perf_counter()
                stats = pipeline.run()
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            finally:
                viewers.kill()
                viewers.wait()
            rows.append({"clients": n, "scheme": scheme, "frames": stats.frames, "fps": round(stats.frames / wall, 1),
                         "cpu_ms_per_frame": round(1000 * cpu / stats.frames, 3), "jpegs": hub.encoded})
    return rows
