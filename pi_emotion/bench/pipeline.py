"""What every measurement shares: the process's own figures and the real pipeline with its browser view."""

from __future__ import annotations

import os
from contextlib import contextmanager


def boot_seconds_at_process_start() -> float:
    with open("/proc/self/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 (starttime), counted after the comm field


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Sink:
    """Takes the annotated picture like a display would, and drops it."""

    needs_image = True

    def write(self, image, result) -> None:
        pass

    def close(self) -> None:
        pass


@contextmanager
def served_pipeline(settings, frames: int, source=None, outputs: tuple = (), tls=None):
    """The pipeline on a looping file (or ``source``) with the browser view on a free loopback port (HTTPS
    with a ``tls`` context) and any further ``outputs``, torn down after."""
    from pi_emotion.integrations.stream.hub import FrameHub, StreamOutput
    from pi_emotion.integrations.stream.server import StreamServer
    from pi_emotion.runtime.app import build_classifier, build_detector, build_pipeline, status
    from pi_emotion.sources import open_source
    from pi_emotion.sources.base import SourceSettings

    source = source or open_source(SourceSettings(settings.source, loop=True))
    classifier = build_classifier(settings)
    hub = FrameHub(max_clients=settings.stream_max_clients)
    pipeline = build_pipeline(settings, source, build_detector(settings), classifier,
                              [StreamOutput(hub), *outputs])
    pipeline.max_frames = frames
    server = StreamServer(hub, ("127.0.0.1", 0), "", lambda: status(pipeline, source, classifier),
                          tls=tls)
    server.start()
    try:
        yield pipeline, hub, server.address[1]
    finally:
        server.close()
        hub.close()
        source.close()
