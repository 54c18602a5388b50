"""A running appliance with its browser view, in this process, for the stream tests."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

from conftest import MODEL, SAMPLE

from pi_emotion.config import Settings
from pi_emotion.integrations.stream.hub import FrameHub, StreamOutput
from pi_emotion.integrations.stream.server import StreamServer
from pi_emotion.perception.classify import EmotionClassifier
from pi_emotion.runtime.app import build_detector, shown_labels, status
from pi_emotion.runtime.pipeline import Pipeline
from pi_emotion.sources.base import FrameSource
from pi_emotion.sources.video import VideoFileSource

DEVICE = "hall cam"  # the appliance's configured name, as the page shows it


class StallingSource(FrameSource):
    """A source stand-in: real frames from the sample, then a read that blocks (a wedged camera driver)."""

    live = realtime = True
    waiting = False
    corrupt = 0

    def __init__(self, frames: int) -> None:
        self.inner = VideoFileSource(SAMPLE)
        self.fps, self.size, self.name = self.inner.fps, self.inner.size, "stalling"
        self.left = frames
        self.stalled = threading.Event()
        self.released = threading.Event()

    def pace(self) -> None:
        pass

    def read(self):
        if self.left == 0:
            self.stalled.set()
            self.released.wait()
            return None
        self.left -= 1
        return self.inner.read()

    def close(self) -> None:
        self.released.set()
        self.inner.close()


class Appliance:
    def __init__(self, source, password: str = "", max_clients: int = 16, stop_at_frame: int = 0,
                 stale_after: float = 5.0, tls=None, logins=None) -> None:
        self.source = source
        classifier = EmotionClassifier(MODEL)
        self.hub = FrameHub(max_clients=max_clients, labels=shown_labels(Settings(), classifier))
        self.pipeline = Pipeline(source, build_detector(Settings()), classifier, [StreamOutput(self.hub)])
        self.server = StreamServer(self.hub, ("127.0.0.1", 0), password,
                                   lambda: {**status(self.pipeline, source, classifier), "device": DEVICE},
                                   client_timeout=5.0, stale_after=stale_after, tls=tls, logins=logins)
        self.stop = threading.Event()
        self.first_frame = threading.Event()
        self.stop_at_frame = stop_at_frame
        self.last_frame = -1
        self.pipeline.hooks.append(self._hook)
        self.thread = threading.Thread(target=self.pipeline.run, args=(self.stop,), daemon=True)

    def _hook(self, result, stats) -> None:
        self.last_frame = result.frame
        self.first_frame.set()
        if self.stop_at_frame and result.frame >= self.stop_at_frame:
            self.stop.set()

    @property
    def port(self) -> int:
        return self.server.address[1]

    def start(self) -> Appliance:
        self.server.start()
        self.thread.start()
        assert self.first_frame.wait(30)
        return self

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.server.close()
        self.hub.close()
        self.source.close()


@contextmanager
def appliance(path: Path = SAMPLE, realtime: bool = True, **kwargs):
    app = Appliance(VideoFileSource(path, loop=True, realtime=realtime), **kwargs).start()
    try:
        yield app
    finally:
        app.close()
