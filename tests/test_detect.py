"""Both face detectors on real photographs, picked by name as the configuration does."""

import cv2
import numpy as np
import pytest
from conftest import assert_user_error, run_cli

from pi_emotion import paths
from pi_emotion.errors import UserError
from pi_emotion.perception import detectors
from pi_emotion.perception.detectors.base import Detector
from pi_emotion.perception.detectors.haar import HaarDetector, HaarOptions
from pi_emotion.perception.detectors.yunet import YuNetDetector, YuNetOptions
from pi_emotion.results.boxes import iou, merge
from pi_emotion.results.frame import Detection

FACES = {"two_people": 2, "obama-480p": 1, "biden": 1}


@pytest.fixture(scope="module", params=["haar", "yunet"])
def detector(request) -> Detector:
    return detectors.create(request.param)


def grey_of(image):
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


@pytest.mark.parametrize("name", FACES)
def test_finds_the_faces_in_real_photos(detector, photos, name):
    image = photos[name]
    found = detector.detect_picture(image, grey_of(image))
    assert len(found) == FACES[name]
    h, w = image.shape[:2]
    for det in found:
        x, y, bw, bh = det.box
        assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h and min(bw, bh) >= 40
        assert (det.landmarks is not None) == detector.landmarks
        if det.landmarks:
            assert len(det.landmarks) == 5
            for px, py in det.landmarks:
                assert x <= px <= x + bw and y <= py <= y + bh
            (rx, ry), (lx, ly), _, (mrx, mry), (mlx, mly) = det.landmarks
            assert rx < lx and max(ry, ly) < min(mry, mly)  # a frontal face: eyes apart, above the mouth


def test_yunet_finds_every_face_haar_finds(photos):
    haar, yunet = (detectors.create(name) for name in ("haar", "yunet"))
    for image in photos.values():
        grey = grey_of(image)
        for h in haar.detect_picture(image, grey):
            assert any(iou(h.box, y.box) > 0.3 for y in yunet.detect_picture(image, grey))


def test_video_width_boxes_land_in_full_frame_coordinates(detector, photos):
    image = photos["two_people"]
    full = sorted(d.box for d in detector.detect(image, grey_of(image), image.shape[1]))
    small = sorted(d.box for d in detector.detect(image, grey_of(image), 320))
    assert len(full) == len(small) == 2
    for a, b in zip(full, small):
        assert iou(a, b) > 0.6


def test_haar_reads_a_smaller_grey_image_as_a_lores_stream(photos):
    image = photos["two_people"]
    haar = detectors.create("haar")
    lores = cv2.resize(grey_of(image), (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
    direct = sorted(d.box for d in haar.detect(image, grey_of(image), 563))
    via_lores = sorted(d.box for d in haar.detect(image, lores, 563))
    assert len(direct) == len(via_lores) == 2
    assert all(iou(a, b) > 0.8 for a, b in zip(direct, via_lores))


def test_a_close_up_needs_the_coarse_pass_of_a_still_picture(photos):
    """A portrait whose face fills the picture: YuNet misses it at full width and finds it in the coarse pass."""
    close_up = cv2.resize(photos["biden"][120:620, 380:760], None, fx=3, fy=3)  # a face about 800 px across
    yunet = detectors.create("yunet")
    grey = grey_of(close_up)
    assert yunet.detect(close_up, grey, close_up.shape[1]) == []
    assert len(yunet.detect_picture(close_up, grey)) == 1


def test_merge_keeps_the_most_confident_of_overlapping_boxes():
    a, b, c = Detection((0, 0, 100, 100), 0.7), Detection((5, 5, 100, 100), 0.9), Detection((300, 0, 50, 50), 0.5)
    assert merge([a, b, c]) == [b, c]


def test_yunet_ignores_faces_below_min_face(photos):
    image = photos["two_people"]
    assert YuNetDetector(YuNetOptions(min_face=20)).detect(image, grey_of(image), 320)
    assert not YuNetDetector(YuNetOptions(min_face=200)).detect(image, grey_of(image), 320)


def test_missing_or_bad_model_files_are_user_errors(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="not found"):
        HaarDetector(HaarOptions(cascade=tmp_path / "none.xml"))
    bad = tmp_path / "bad.xml"
    bad.write_text("<opencv_storage></opencv_storage>")
    with pytest.raises(UserError, match="not a valid"):
        HaarDetector(HaarOptions(cascade=bad))
    with pytest.raises(UserError, match="not found"):
        YuNetDetector(YuNetOptions(model=tmp_path / "none.onnx"))
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(paths.shipped(paths.YUNET).read_bytes()[:5000])
    with pytest.raises(UserError, match="not a valid YuNet"):
        YuNetDetector(YuNetOptions(model=corrupt))
    monkeypatch.delattr(cv2, "FaceDetectorYN")
    with pytest.raises(UserError, match="FaceDetectorYN"):
        YuNetDetector(YuNetOptions())


@pytest.mark.parametrize("args, words", [
    (["--detector", "mtcnn"], ["--detector", "yunet"]),
    (["--score-threshold", "1.5"], ["--score-threshold", "at most"]),
    (["--nms-threshold", "0"], ["--nms-threshold", "at least"]),
    (["--track-hold", "-1"], ["--track-hold"]),
    (["--min-confidence", "nan"], ["--min-confidence", "finite"]),
    (["--detector-model", "missing.onnx"], ["missing.onnx", "not found"]),
])
def test_bad_detector_options_exit_2_with_one_line(args, words, tmp_path):
    assert_user_error(run_cli("--source", "tests/data/sample.mp4", *args), *words)


def test_a_corrupt_detector_model_on_the_command_line_is_one_line(tmp_path):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    assert_user_error(run_cli("--source", "tests/data/sample.mp4", "--detector-model", corrupt), "corrupt.onnx")
