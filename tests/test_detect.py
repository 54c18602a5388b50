import cv2
import pytest

from pi_emotion import paths
from pi_emotion.detect import DetectorSettings, FaceDetector, square_box
from pi_emotion.errors import UserError


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(DetectorSettings(paths.shipped(paths.CASCADE)))


@pytest.mark.parametrize("name, faces", [("two_people", 2), ("obama-480p", 1), ("biden", 1)])
def test_finds_the_faces_in_real_photos(detector, photos, name, faces):
    image = photos[name]
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    boxes = detector.detect(grey)
    assert len(boxes) == faces
    h, w = grey.shape
    for x, y, bw, bh in boxes:
        assert bw == bh and bw >= 40
        assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h


def test_boxes_from_a_small_grey_image_land_in_full_frame_coordinates(detector, photos):
    image = photos["two_people"]
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    full = sorted(detector.detect(grey))
    small = cv2.resize(grey, (grey.shape[1] // 2, grey.shape[0] // 2))
    scaled = sorted(detector.detect(small, full_size=(grey.shape[1], grey.shape[0])))
    assert len(scaled) == len(full) == 2
    for a, b in zip(full, scaled):
        assert all(abs(p - q) <= 0.15 * a[2] for p, q in zip(a, b))


def test_square_box_grows_by_margin_and_stays_inside():
    assert square_box(100, 100, 50, 40, 0.1, 640, 480) == (95, 90, 60, 60)
    x, y, w, h = square_box(0, 450, 60, 60, 0.2, 640, 480)
    assert (x, y + h) == (0, 480) and w == h == 84
    assert square_box(0, 0, 900, 900, 0.1, 640, 480)[2] == 480


def test_missing_or_bad_cascade_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not found"):
        FaceDetector(DetectorSettings(tmp_path / "none.xml"))
    bad = tmp_path / "bad.xml"
    bad.write_text("<opencv_storage></opencv_storage>")
    with pytest.raises(UserError, match="not a valid"):
        FaceDetector(DetectorSettings(bad))
