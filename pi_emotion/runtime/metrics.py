"""Prometheus text for ``/metrics``, rendered by ``prometheus_client`` from the run's own figures.

Everything is read when Prometheus scrapes: the frame loop does no metrics work beyond
the stage timing it already does (plus one histogram bucket count per stage and frame).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from pi_emotion.runtime.soc import FLAGS, SINCE_BOOT, SocSensors
from pi_emotion.runtime.stats import BUCKETS_MS, STAGES, RunStats


class AppCollector:
    """The appliance's metrics, as a ``prometheus_client`` custom collector."""

    def __init__(self, stats: RunStats, waiting: Callable[[], bool], info: dict[str, str],
                 soc: SocSensors | None = None) -> None:
        self.stats = stats
        self.waiting = waiting  # True while the camera is being reconnected
        self.info = info  # version, model, detector
        self.soc = soc

    def collect(self) -> Iterator:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
            InfoMetricFamily,
        )

        s = self.stats
        yield InfoMetricFamily("pi_emotion_build", "Version, model and face detector", value=self.info)
        for name, help_text, value in (
                ("frames", "Frames processed", s.frames),
                ("faces", "Faces classified (one per face per frame)", s.faces),
                ("errors", "Frames whose classification failed", s.errors),
                ("dropped_frames", "Camera frames replaced by newer ones before the loop took them", s.dropped),
                ("corrupt_frames", "Undecodable frames skipped", s.corrupt)):
            yield CounterMetricFamily(f"pi_emotion_{name}", help_text, value=value)
        yield GaugeMetricFamily("pi_emotion_fps", "Frames per second over the last 60 frames", value=s.recent_fps)
        yield GaugeMetricFamily("pi_emotion_faces_in_view", "Faces in the last processed frame", value=s.last_faces)
        yield GaugeMetricFamily("pi_emotion_uptime_seconds", "Seconds since the frame loop started", value=s.elapsed)
        waiting = self.waiting()
        camera = GaugeMetricFamily("pi_emotion_camera_state", "1 for the camera's current state", labels=["state"])
        camera.add_metric(["running"], 0 if waiting else 1)
        camera.add_metric(["waiting"], 1 if waiting else 0)
        yield camera
        stages = HistogramMetricFamily("pi_emotion_stage_seconds", "Time per frame in each pipeline stage "
                                       "(classify: cropping and model inference for all faces of a frame)",
                                       labels=["stage"])
        for stage in STAGES:
            cumulative, buckets = 0, []
            for bound, count in zip((*BUCKETS_MS, float("inf")), s.stages.buckets[stage]):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound / 1000), cumulative))
            stages.add_metric([stage], buckets, s.stages.total[stage] / 1000)
        yield stages
        yield from self._soc()

    def _soc(self) -> Iterator:
        from prometheus_client.core import GaugeMetricFamily

        if self.soc is None:
            return
        temperature = self.soc.temperature_c()
        if temperature is not None:
            yield GaugeMetricFamily("pi_emotion_soc_temperature_celsius", "SoC temperature", value=temperature)
        bits = self.soc.throttled()
        if bits is not None:
            now = GaugeMetricFamily("pi_emotion_throttled", "1 while the firmware reports the condition "
                                    "(under-voltage, frequency capped, throttled, soft temperature limit)",
                                    labels=["condition"])
            ever = GaugeMetricFamily("pi_emotion_throttled_since_boot", "1 if the condition occurred since boot",
                                     labels=["condition"])
            for bit, name in FLAGS:
                now.add_metric([name], (bits >> bit) & 1)
                ever.add_metric([name], (bits >> (bit + SINCE_BOOT)) & 1)
            yield now
            yield ever


def renderer(collector: AppCollector) -> Callable[[], tuple[bytes, str]]:
    """A function giving the current metrics text and its content type, with the process's own metrics too."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, ProcessCollector, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    registry.register(collector)
    return lambda: (generate_latest(registry), CONTENT_TYPE_LATEST)
