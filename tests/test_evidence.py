"""Labels from evidence: views weighted by quality, time constants in seconds, a label that changes only
after another has led for a while, and faces classified only when seen, at a bounded rate."""

import cv2
import numpy as np
import pytest
from conftest import DATA, MODEL

from pi_emotion.perception import detectors
from pi_emotion.perception.align import turn_of
from pi_emotion.perception.classify import EmotionClassifier
from pi_emotion.perception.evidence import UNCERTAIN_INDEX, Evidence, EvidenceOptions, view_weight
from pi_emotion.results.frame import Detection
from pi_emotion.runtime.pipeline import Pipeline, PipelineOptions
from pi_emotion.sources.video import VideoFileSource

HAPPY, SAD = 3, 4


def onehot(index: int, p: float = 0.8) -> np.ndarray:
    probs = np.full(7, (1 - p) / 6)
    probs[index] = p
    return probs


@pytest.fixture(scope="module")
def photo_view():
    """A real frontal face: its detection and the crop the classifier sees."""
    image = cv2.imread(str(DATA / "obama-480p.jpg"))
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    (det,) = detectors.create("yunet").detect_picture(image, grey)
    crop = EmotionClassifier(MODEL).crops(grey, [det])[0]
    return det, crop


def test_a_clear_frontal_view_counts_most(photo_view):
    det, crop = photo_view
    clear = view_weight(det, crop)
    blurred = view_weight(det, cv2.GaussianBlur(crop, (0, 0), 2.5))
    x, y, w, h = det.box
    small = view_weight(Detection((x, y, 16, 16), det.score, det.landmarks), crop)
    unsure = view_weight(Detection(det.box, 0.6, det.landmarks), crop)
    nose = ((det.landmarks[0][0] + det.landmarks[1][0]) / 2 + 0.4 * (det.landmarks[1][0] - det.landmarks[0][0]),
            det.landmarks[2][1])
    turned = view_weight(Detection(det.box, det.score, (*det.landmarks[:2], nose, *det.landmarks[3:])), crop)
    assert clear > 0.8
    assert max(blurred, small, unsure, turned) < 0.6 * clear


def test_turn_is_small_for_a_frontal_face_and_grows_as_the_nose_leaves_the_eyes_midline(photo_view):
    det, _ = photo_view
    assert turn_of(det.landmarks) < 0.1
    (rx, ry), (lx, ly) = det.landmarks[:2]
    ex, ey = lx - rx, ly - ry
    for offset in (0.2, 0.4):  # the nose moved along the eye line, half an eye distance below it
        nose = ((rx + lx) / 2 + offset * ex - 0.5 * ey, (ry + ly) / 2 + offset * ey + 0.5 * ex)
        assert turn_of((*det.landmarks[:2], nose)) == pytest.approx(offset, abs=0.01)


def test_a_poor_view_moves_the_label_less_than_a_clear_one():
    evidence = Evidence(7)
    for i in range(3):
        evidence.add(onehot(HAPPY), 1.0, i * 0.2)
    for i in range(3, 6):
        evidence.add(onehot(SAD), 0.1, i * 0.2)  # blurred, small or turned views of a sad face
    assert evidence.decide(1.0) == HAPPY
    clear = Evidence(7)
    for i in range(3):
        clear.add(onehot(HAPPY), 1.0, i * 0.2)
    for i in range(3, 6):
        clear.add(onehot(SAD), 1.0, i * 0.2)
    assert int(np.argmax(clear.probabilities())) == SAD


def switch_time(fps: float, rate: float, options: EvidenceOptions) -> float:
    """Seconds from the moment a face's expression changes to the moment its shown label follows."""
    evidence = Evidence(7, options)
    change, t, last = 3.0, 0.0, -1e9
    while t < 8:
        if t - last >= 1 / rate - 1e-6:
            evidence.add(onehot(HAPPY if t < change else SAD), 1.0, t)
            last = t
        if t >= change and evidence.decide(t) == SAD:
            return t - change
        evidence.decide(t)
        t += 1 / fps
    raise AssertionError("the label never followed")


def test_the_label_follows_a_change_after_the_same_time_at_any_frame_rate_or_classify_rate():
    options = EvidenceOptions(smooth_seconds=1.5, switch_seconds=0.7)
    times = [switch_time(fps, rate, options) for fps, rate in ((30, 5), (15, 2), (60, 10), (25, 25))]
    assert max(times) - min(times) <= 0.5
    assert all(options.switch_seconds <= t <= 2.5 for t in times)


def test_a_label_that_leads_only_briefly_is_never_shown():
    evidence = Evidence(7, EvidenceOptions(smooth_seconds=0.3, switch_seconds=0.7))
    shown = []
    for i in range(60):  # 2 s at 30 fps: happy, with half a second of sad in the middle
        t = i / 30
        evidence.add(onehot(SAD if 0.8 <= t < 1.3 else HAPPY), 1.0, t)
        shown.append(evidence.decide(t))
    assert set(shown) == {HAPPY}


def test_weak_evidence_is_uncertain():
    weak = Evidence(7)
    weak.add(onehot(HAPPY, 0.9), 0.05, 0.0)  # one tiny, blurred view
    assert weak.decide(0.0) == UNCERTAIN_INDEX
    unsure = Evidence(7, EvidenceOptions(min_confidence=0.5))
    unsure.add(onehot(HAPPY, 0.4), 1.0, 0.0)  # a clear view, but no label stands out
    assert unsure.decide(0.0) == UNCERTAIN_INDEX
    faded = Evidence(7)
    faded.add(onehot(HAPPY), 1.0, 0.0)
    assert faded.decide(0.0) == HAPPY and faded.weight(10.0) < 0.01  # evidence fades away with time


def test_faces_are_classified_only_when_seen_and_at_most_at_the_rate():
    """Real frames: detection on alternate frames, 5 classifications a face a second at most."""
    source = VideoFileSource(DATA / "sample.mp4")
    classifier = EmotionClassifier(MODEL)
    options = PipelineOptions(detect_every=2, classify_rate=5.0)
    pipeline = Pipeline(source, detectors.create("yunet"), classifier, [], options)
    seen_frames = []
    original = classifier.crops

    def crops(image, faces, margin=0.0):
        seen_frames.append(pipeline.stats.frames)
        return original(image, faces, margin)

    classifier.crops = crops
    stats = pipeline.run()
    source.close()
    seconds = stats.frames / 30
    assert stats.frames == 180 and stats.faces > 200
    assert all(frame % 2 == 0 for frame in seen_frames)  # only frames where the detector ran
    assert stats.classified <= 2 * (5 * seconds + 3)  # at most two faces at 5 a second (and each new face once)
    assert stats.classified * 3 <= stats.faces  # at least 3x fewer than classifying every face on every frame
