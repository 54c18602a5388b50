"""Crops framed like the training faces: levelled, placed by the landmarks, the same whatever the pose."""

import math

import cv2
import numpy as np
import pytest
from conftest import DATA

from pi_emotion.datasets import fer2013
from pi_emotion.datasets.placement import face_matrix, place, random_placement
from pi_emotion.perception import detectors
from pi_emotion.perception.align import TEMPLATE, crop_matrix, face_crop
from pi_emotion.results.boxes import largest
from pi_emotion.results.frame import Detection

SIZE = (48, 48)


@pytest.fixture(scope="module")
def yunet():
    return detectors.create("yunet")


def only_face(detector, image):
    (face,) = detector.detect_picture(image, cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    return face


def corr(a, b):
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


@pytest.mark.parametrize("angle", [-25, 12, 30])
def test_a_turned_face_comes_out_level_and_framed_the_same(yunet, photos, angle):
    """The alignment itself, given where the eyes are: the picture turned, its landmarks turned with it."""
    photo = photos["obama-480p"]
    face = only_face(yunet, photo)
    upright = cv2.cvtColor(face_crop(photo, face, (96, 96), 0), cv2.COLOR_BGR2GRAY)
    h, w = photo.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 0.7)
    m[:, 2] += (450 - w / 2, 350 - h / 2)
    picture = cv2.warpAffine(photo, m, (900, 700), borderMode=cv2.BORDER_REPLICATE)
    points = np.hstack([np.array(face.landmarks), np.ones((5, 1))]) @ m.T
    turned_face = Detection(face.box, face.score, tuple(map(tuple, points)))
    matrix = crop_matrix(turned_face, (96, 96), 0)
    (rx, ry), (lx, ly) = (np.hstack([points[:2], np.ones((2, 1))]) @ matrix.T)
    assert abs(ly - ry) < 0.5 and lx > rx  # the eyes are level in the crop
    levelled = cv2.cvtColor(face_crop(picture, turned_face, (96, 96), 0), cv2.COLOR_BGR2GRAY)
    assert corr(levelled, upright) > 0.95


def test_yunet_landmarks_follow_a_moderate_tilt(yunet, photos):
    """The detector's own eye points see a head tilted by 10 degrees (not always more: see the README)."""
    photo = photos["two_people"]
    h, w = photo.shape[:2]
    angles = []
    for angle in (-10, 0, 10):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 0.8)
        m[:, 2] += (800 - w / 2, 700 - h / 2)
        picture = cv2.warpAffine(photo, m, (1600, 1400), borderMode=cv2.BORDER_REPLICATE)
        face = largest(yunet.detect_picture(picture, None))
        (rx, ry), (lx, ly) = face.landmarks[:2]
        angles.append(-math.degrees(math.atan2(ly - ry, lx - rx)))
    assert angles[0] < angles[1] - 5 and angles[2] > angles[1] + 5


def test_the_landmarks_land_on_the_template(yunet, photos):
    photo = photos["two_people"]
    for face in yunet.detect_picture(photo, cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)):
        m = crop_matrix(face, SIZE, 0)
        placed = np.hstack([np.array(face.landmarks), np.ones((5, 1))]) @ m.T
        assert np.abs(placed - TEMPLATE * SIZE).max() < 4  # pixels of 48


def test_a_dataset_face_placed_in_a_larger_picture_is_cropped_back_closely(yunet):
    """FER2013 faces (the bundled sample) set into wider pictures, found and cropped by the appliance."""
    faces = fer2013.load(DATA / "fer2013-sample.csv.gz").images[:80]
    rng = np.random.default_rng(3)
    landmark, naive = [], []
    for face in faces:
        p = random_placement(rng)
        picture = place(face, p)
        found = yunet.detect_picture(picture, cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY))
        if not found:
            continue
        det = largest(found)
        grey = cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY)
        landmark.append(corr(face_crop(grey, det, SIZE, 0), face))
        naive.append(corr(face_crop(grey, Detection(det.box), SIZE, 0.2), face))  # the box, 20% margin
    assert len(landmark) > 60
    assert np.median(landmark) > 0.5 and np.median(landmark) > np.median(naive) + 0.1


def test_large_faces_are_shrunk_by_area_not_sampled():
    """A fine stripe pattern must average to grey in a small crop, not alias into bold stripes."""
    stripes = np.zeros((480, 480), np.uint8)
    stripes[:, ::2] = 255
    small = face_crop(stripes, Detection((40, 40, 400, 400)), SIZE, 0)
    assert small.std() < 20 and abs(float(small.mean()) - 127.5) < 10


def test_a_face_outside_the_picture_gives_a_blank_crop():
    image = np.full((100, 100), 200, np.uint8)
    assert face_crop(image, Detection((500, 500, 50, 50)), SIZE, 0).max() == 0


def test_placement_is_deterministic_for_a_seed():
    a, b = (random_placement(np.random.default_rng(7)) for _ in range(2))
    assert a == b
    assert face_matrix(48, a).shape == (2, 3)


def test_the_framing_measurement_puts_the_points_where_the_template_has_them():
    from pi_emotion.bench.framing import measure_framing

    report = measure_framing(DATA / "fer2013-sample.csv.gz", faces=80, usage="all")
    assert report["found"] > 60
    measured = np.array(list(report["median"].values()))
    assert np.abs(measured - TEMPLATE * 48).max() < 2.5  # pixels of 48, on a small sample
    assert 0 < report["scale_spread"] < 1
