"""Detection on its own thread: no frame waits for it, its faces land on the right faces of a newer frame,
and it stops with the run."""

import json
import threading

import numpy as np
from conftest import DATA, MODEL, wait_until

from pi_emotion.perception import detectors
from pi_emotion.perception.classify import EmotionClassifier
from pi_emotion.results.boxes import iou
from pi_emotion.runtime.detection_worker import DetectionWorker
from pi_emotion.runtime.pipeline import Pipeline, PipelineOptions
from pi_emotion.sources.base import Frame
from pi_emotion.sources.video import VideoFileSource


def frames(clip: str, count: int) -> list[Frame]:
    source = VideoFileSource(DATA / clip)
    out = [source.read() for _ in range(count)]
    source.close()
    return out


class Gate:
    """A detector that waits for the test's word before it answers: a detection as slow as we like."""

    def __init__(self):
        self.inner = detectors.create("yunet")
        self.detect_width, self.min_face = self.inner.detect_width, self.inner.min_face
        self.open = threading.Event()
        self.calls = 0

    def detect(self, image, grey, width=None, min_face=None):
        self.calls += 1
        self.open.wait(30)
        return self.inner.detect(image, grey, width, min_face)


def test_no_frame_waits_for_a_slow_detection():
    gate = Gate()
    pipeline = Pipeline(None, gate, EmotionClassifier(MODEL), [], PipelineOptions(detect_every=2, fine_every=0))
    pipeline.worker = DetectionWorker(pipeline._timed_find)
    clip = frames("steady.mp4", 12)
    try:
        for frame in clip[:10]:  # the detector is stuck on the first frame all along
            assert pipeline.analyse(frame).faces == []
        assert wait_until(lambda: gate.calls == 1) and gate.calls == 1  # one detection at a time, none queued
        gate.open.set()
        assert wait_until(lambda: pipeline.worker.idle)
        result = pipeline.analyse(clip[10])  # the result of frame 0 lands on frame 10
        assert len(result.faces) == 2
    finally:
        gate.open.set()
        pipeline.worker.close()


def walker_offsets(pipeline: Pipeline, clip: list[Frame], truth: list) -> list[float]:
    """How far right of the walker's true centre his box is drawn, frame by frame while he walks."""
    offsets = []
    for frame in clip:
        result = pipeline.analyse(frame)
        if pipeline.worker is not None:
            assert wait_until(lambda: pipeline.worker.idle)  # so that every result is exactly one frame late
        walker = [f for f in truth[frame.index] if f[4] == "obama"][0][:4]
        shown = [f.box for f in result.faces if iou(f.box, walker) > 0.3]
        if frame.index >= 40:  # walking at 4 px a frame since frame 30
            assert len(shown) == 1, frame.index
            offsets.append((shown[0][0] + shown[0][2] / 2) - (walker[0] + walker[2] / 2))
    return offsets


def test_faces_found_on_an_older_frame_land_where_the_faces_are_now():
    """Each detection arrives a frame late (4 px behind the walker); the box must be where the inline one is."""
    truth = json.loads((DATA / "steady.faces.json").read_text())["frames"]
    clip = frames("steady.mp4", 80)

    def pipeline() -> Pipeline:
        return Pipeline(None, detectors.create("yunet"), EmotionClassifier(MODEL), [],
                        PipelineOptions(detect_every=1, fine_every=0))

    inline = np.median(walker_offsets(pipeline(), clip, truth))
    threaded = pipeline()
    threaded.worker = DetectionWorker(threaded._timed_find)
    late = np.median(walker_offsets(threaded, clip, truth))
    threaded.worker.close()
    assert abs(late - inline) <= 1.0  # moved on by the face's own motion, not left a frame (4 px) behind


def test_the_worker_stops_with_the_run():
    source = VideoFileSource(DATA / "sample.mp4", realtime=True)
    pipeline = Pipeline(source, detectors.create("yunet"), EmotionClassifier(MODEL), [],
                        PipelineOptions(detect_every=2, detect_thread=True, max_frames=45))
    stats = pipeline.run()
    source.close()
    assert stats.frames == 45 and stats.faces > 30
    assert pipeline.worker is None
    assert not [t for t in threading.enumerate() if t.name == "detector"]


def test_a_file_run_as_fast_as_it_goes_detects_inline_frame_by_frame():
    source = VideoFileSource(DATA / "sample.mp4")
    pipeline = Pipeline(source, detectors.create("yunet"), EmotionClassifier(MODEL), [],
                        PipelineOptions(detect_thread=True, max_frames=10))
    started = []
    pipeline.hooks.append(lambda result, stats: started.append(pipeline.worker))
    pipeline.run()
    source.close()
    assert started == [None] * 10  # deterministic: the same results every run
