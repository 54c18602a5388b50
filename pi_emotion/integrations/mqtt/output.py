"""Results to MQTT: a retained state at most once a second, and face events as they happen.

In the aggregates-only privacy mode the state is one aggregate per interval instead
(suppressed below the minimum group) and no face events are sent. The frame loop only
puts the result on a queue; deriving and publishing happen in this output's thread and
paho's, so a slow or absent broker never reaches the loop.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import Counter, deque

import numpy as np

from pi_emotion.integrations.mqtt.connection import MqttConnection
from pi_emotion.integrations.mqtt.discovery import discovery_messages
from pi_emotion.integrations.mqtt.settings import MqttSettings
from pi_emotion.results.aggregate import Aggregate, IntervalAggregator, RollingShares, dominant
from pi_emotion.results.face_events import FaceEvents
from pi_emotion.results.frame import FrameResult, iso_utc

log = logging.getLogger(__name__)
QUEUE = 1000  # results waiting for this output's thread; more are dropped (and counted), never waited for
STATE_EVERY = 1.0  # seconds between state messages at most
SHARE_WINDOW = 60.0  # seconds over which the live state's emotion shares are counted


def _compact(data: dict) -> str:
    return json.dumps(data, separators=(",", ":"))


class MqttOutput:
    needs_image = False

    def __init__(self, ms: MqttSettings, labels: tuple[str, ...], info: dict[str, str],
                 aggregator: IntervalAggregator | None = None, clock=time.monotonic, wall=time.time,
                 page_url: str = "") -> None:
        self.ms = ms
        self.labels = labels
        self.info = info  # detector and model names, sent with every state
        self.page_url = page_url  # the browser view on the network, linked from Home Assistant's device page
        self.aggregator = aggregator
        self.dropped = 0  # results the thread could not take in time
        self._clock, self._wall = clock, wall
        self._faces = FaceEvents()
        self._shares = RollingShares(labels, SHARE_WINDOW)
        self._arrivals: deque[float] = deque(maxlen=60)
        self._frames = 0
        self._last_state_at = -1e9
        self._state: str | None = None  # last state payload, re-published on every (re)connect
        self._queue: queue.Queue = queue.Queue(QUEUE)
        self.connection = MqttConnection(ms, self._announce)
        self._thread = threading.Thread(target=self._work, name="mqtt-output", daemon=True)
        self._thread.start()
        self.connection.start()

    # the frame loop's side ------------------------------------------------------------------------------
    def write(self, image: np.ndarray | None, result: FrameResult) -> None:
        try:
            self._queue.put_nowait((self._clock(), result))
        except queue.Full:
            self.dropped += 1

    def close(self) -> None:
        """Publish what is queued (the faces in view leaving, the last partial interval), say offline, disconnect."""
        self._queue.put(None)
        self._thread.join()
        for event in self._faces.finish():  # the faces still in view leave with the run
            self.connection.publish(self.ms.events, _compact({**event.to_json(), "ts": iso_utc(self._wall())}))
        if self.aggregator is not None:
            last = self.aggregator.flush()
            if last is not None:
                self._publish_state(self._aggregate_state(last))
        self.connection.close()

    # this output's thread -------------------------------------------------------------------------------
    def _work(self) -> None:
        failures = 0
        while (item := self._queue.get()) is not None:
            try:
                self._handle(*item)
            except Exception:  # a bug here must cost MQTT messages, never the thread (and with it every later one)
                failures += 1
                if failures == 1:
                    log.exception("MQTT output: a result could not be published; going on")

    def _handle(self, at: float, result: FrameResult) -> None:
        self._arrivals.append(at)
        self._frames += 1
        if self.aggregator is not None:
            done = self.aggregator.update(result)
            if done is not None:
                self._publish_state(self._aggregate_state(done))
            return
        self._shares.add(result)
        for event in self._faces.update(result):
            self.connection.publish(self.ms.events, _compact({**event.to_json(), "ts": iso_utc(result.wall)}))
        if at - self._last_state_at >= STATE_EVERY:
            self._last_state_at = at
            self._publish_state(self._live_state(result))

    def _fps(self) -> float:
        span = self._arrivals[-1] - self._arrivals[0] if len(self._arrivals) > 1 else 0.0
        return round((len(self._arrivals) - 1) / span, 1) if span > 0 else 0.0

    def _common(self, wall: float) -> dict:
        return {"fps": self._fps(), "frames": self._frames, **self.info, "ts": iso_utc(wall)}

    def _live_state(self, result: FrameResult) -> dict:
        shown = Counter(face.emotion for face in result.faces)  # the faces a person sees now
        present = len(result.faces)
        return {"mode": "live", "faces_in_view": present, "someone_in_view": present > 0,
                "dominant_emotion": dominant(shown, self.labels), "shares": self._shares.shares(),
                "share_window_s": SHARE_WINDOW, "t": round(result.t, 3), **self._common(result.wall)}

    def _aggregate_state(self, agg: Aggregate) -> dict:
        summary = agg.to_json()
        hidden = agg.suppressed
        return {"mode": "aggregate", "interval_s": self.aggregator.interval, "start": summary["start"],
                "end": summary["end"], "suppressed": hidden,
                "faces": None if hidden else agg.faces,
                "faces_in_view": None if hidden else summary["mean_faces_in_view"],
                "max_faces_in_view": None if hidden else agg.max_in_view,
                "someone_in_view": None if hidden else agg.faces > 0,
                "dominant_emotion": None if hidden else summary["dominant_emotion"],
                "shares": None if hidden else summary["shares"], **self._common(self._wall())}

    def _publish_state(self, state: dict) -> None:
        self._state = _compact(state)
        self.connection.publish(self.ms.state, self._state, retain=True)

    # paho's thread: after every (re)connect and when Home Assistant restarts -------------------------------
    def _announce(self) -> None:
        if self.ms.ha_prefix:
            for topic, payload in discovery_messages(self.ms, self.labels, self.page_url):
                self.connection.publish(topic, payload, retain=True, qos=1)
        if self._state is not None:
            self.connection.publish(self.ms.state, self._state, retain=True)
