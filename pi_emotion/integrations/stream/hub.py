"""Hands frames and results from the frame loop to any number of HTTP clients without slowing it.

The loop only swaps a reference and notifies (``publish``). One encoder thread turns the
newest frame into JPEG, once, and only while someone watches; each client's own thread
takes the newest JPEG when it is ready for one, so a slow client just misses frames.

The page's emotion-share chart is drawn from ``history``: the last few minutes of
per-interval aggregates (the same ``IntervalAggregator`` as summaries and MQTT), kept by the
appliance so a page opened or reloaded at any time shows them at once.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import cv2
import numpy as np

from pi_emotion.results.aggregate import IntervalAggregator
from pi_emotion.results.frame import FrameResult, iso_utc

HISTORY_INTERVAL = 2.0  # seconds per bar of the page's chart
HISTORY_SPAN = 300.0  # seconds of bars kept: the chart's "last 5 minutes"


class FrameHub:
    def __init__(self, jpeg_quality: int = 80, max_clients: int = 16, history: int = 300,
                 labels: tuple[str, ...] = ()) -> None:
        self.jpeg_quality = jpeg_quality
        self.max_clients = max_clients
        self.encoded = 0  # JPEGs made, for benchmarks and tests
        self._cond = threading.Condition()
        self._raw: np.ndarray | None = None
        self._raw_seq = 0
        self._jpeg: bytes | None = None
        self._jpeg_seq = 0
        self._results: deque[FrameResult] = deque(maxlen=history)
        self._result_seq = 0
        self.labels = labels  # every label a face may be shown with, for the page's colours and legend
        self._intervals: deque[dict] = deque(maxlen=round(HISTORY_SPAN / HISTORY_INTERVAL))
        self._last_frame_at: float | None = None
        self._stream_clients = 0
        self._event_clients = 0
        self._waiters = 0  # snapshot requests waiting for a frame
        self._closed = False
        self._encoder = threading.Thread(target=self._encode_loop, name="jpeg-encoder", daemon=True)
        self._encoder.start()

    # the frame loop's side -------------------------------------------------------------------------
    @property
    def watched(self) -> bool:
        return self._stream_clients > 0 or self._waiters > 0

    def publish(self, image: np.ndarray | None, result: FrameResult) -> None:
        with self._cond:
            if image is not None:
                self._raw, self._raw_seq = image, self._raw_seq + 1
            self._results.append(result)
            self._result_seq += 1
            self._last_frame_at = time.monotonic()
            self._cond.notify_all()

    def add_interval(self, aggregate: dict) -> None:
        with self._cond:
            self._intervals.append(aggregate)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._encoder.join(2)

    def _encode_loop(self) -> None:
        done = 0
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or (self._raw_seq != done and self.watched))
                if self._closed:
                    return
                image, seq = self._raw, self._raw_seq
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
            done = seq
            if ok:
                with self._cond:
                    self._jpeg, self._jpeg_seq = buf.tobytes(), self._jpeg_seq + 1
                    self.encoded += 1
                    self._cond.notify_all()

    # the clients' side ----------------------------------------------------------------------------
    def join_stream(self) -> bool:
        """Count a stream client in; False when the cap is reached."""
        with self._cond:
            if self._stream_clients >= self.max_clients:
                return False
            self._stream_clients += 1
            self._cond.notify_all()
            return True

    def leave_stream(self) -> None:
        with self._cond:
            self._stream_clients -= 1

    @property
    def stream_clients(self) -> int:
        return self._stream_clients

    def join_events(self) -> bool:
        """Count a Server-Sent-Events client in (each holds a server thread); False when the cap is reached."""
        with self._cond:
            if self._event_clients >= self.max_clients:
                return False
            self._event_clients += 1
            return True

    def leave_events(self) -> None:
        with self._cond:
            self._event_clients -= 1

    @property
    def event_clients(self) -> int:
        return self._event_clients

    def next_jpeg(self, after: int, timeout: float) -> tuple[bytes | None, int]:
        """The newest JPEG newer than sequence ``after`` (waiting up to ``timeout``), and its sequence."""
        with self._cond:
            self._cond.wait_for(lambda: self._jpeg_seq > after or self._closed, timeout)
            if self._jpeg_seq > after:
                return self._jpeg, self._jpeg_seq
            return None, after

    def snapshot(self, timeout: float) -> bytes | None:
        """A JPEG of the next frame, or None if no frame comes in time (an old picture is not a snapshot)."""
        with self._cond:
            self._waiters += 1
            self._cond.notify_all()
            after = self._jpeg_seq
        try:
            jpeg, _ = self.next_jpeg(after, timeout)
            return jpeg
        finally:
            with self._cond:
                self._waiters -= 1

    def recent(self, n: int) -> list[FrameResult]:
        with self._cond:
            return list(self._results)[-n:]

    def history(self) -> list[dict]:
        """The kept intervals, oldest first (summary lines' shape, ``ts`` when each closed)."""
        with self._cond:
            return list(self._intervals)

    def next_result(self, after: int, timeout: float) -> tuple[FrameResult | None, int]:
        with self._cond:
            self._cond.wait_for(lambda: self._result_seq > after or self._closed, timeout)
            if self._result_seq > after and self._results:
                return self._results[-1], self._result_seq
            return None, after

    def seconds_since_frame(self) -> float | None:
        with self._cond:
            return None if self._last_frame_at is None else time.monotonic() - self._last_frame_at


class StreamOutput:
    """The pipeline's output that feeds the hub; it asks for drawn frames only while someone watches.

    ``private`` (the aggregates-only privacy mode): no picture and no faces reach the hub,
    only that a frame was processed, which keeps /healthz truthful, and the chart's
    intervals with fewer than ``min_group`` distinct faces are suppressed as everywhere else.
    """

    def __init__(self, hub: FrameHub, private: bool = False, min_group: int = 1) -> None:
        self.hub = hub
        self.private = private
        self.intervals = IntervalAggregator(HISTORY_INTERVAL, min_group if private else 1, hub.labels)

    @property
    def needs_image(self) -> bool:
        return self.hub.watched and not self.private

    def write(self, image: np.ndarray | None, result: FrameResult) -> None:
        closed = self.intervals.update(result)
        if closed is not None:  # wall-clock time of the interval's end, for the chart's axis
            self.hub.add_interval({**closed.to_json(), "ts": iso_utc(result.wall - (result.t - closed.end))})
        if self.private:
            self.hub.publish(None, FrameResult(result.frame, result.t))
        else:
            self.hub.publish(image, result)

    def close(self) -> None:
        self.hub.close()
