"""`pi-emotion explain` on real photos: guided back-propagation through the shipped network."""

import shutil

import cv2
import numpy as np
import pytest
from conftest import DATA, ROOT, assert_user_error, run_cli

try:
    import tensorflow  # noqa: F401

    HAVE_TF = True
except ImportError:
    HAVE_TF = False
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not HAVE_TF, reason="needs the training extra (TensorFlow)")]
KERAS = ROOT / "models" / "emotion.keras"


def test_the_saliency_map_is_the_crop_s_size_and_lies_on_the_face():
    from pi_emotion.training.explain import explain

    [face] = explain(DATA / "obama-480p.jpg", KERAS)
    assert face.label == "happy" and face.appliance.argmax() == face.network.argmax()
    assert face.saliency.shape == face.crop.shape == (48, 48)
    assert face.saliency.max() == pytest.approx(1.0) and face.saliency.std() > 0.05
    inner = face.saliency[12:36, 12:36].mean()
    border = np.concatenate([face.saliency[:6].ravel(), face.saliency[-6:].ravel(),
                             face.saliency[6:-6, :6].ravel(), face.saliency[6:-6, -6:].ravel()]).mean()
    assert inner > 2.5 * border  # 3.6 times for the shipped network


def test_explain_writes_one_row_per_face(tmp_path):
    out = tmp_path / "explain.png"
    proc = run_cli("explain", DATA / "two_people.jpg", "--model", KERAS, "-o", out, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("face (") == 2 and "saliency of" in proc.stdout
    png = cv2.imread(str(out))
    assert png is not None and png.shape[0] > 500 and png.shape[1] > 1000


def test_explain_says_what_is_missing(tmp_path):
    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((240, 320, 3), 128, np.uint8))
    assert_user_error(run_cli("explain", blank, "--model", KERAS, "-o", tmp_path / "x.png", timeout=300),
                      "no face found")
    alone = tmp_path / "alone.keras"
    shutil.copy(KERAS, alone)
    assert_user_error(run_cli("explain", DATA / "biden.jpg", "--model", alone, "-o", tmp_path / "x.png",
                              timeout=300), "alone.tflite", "pi-emotion convert")
    assert_user_error(run_cli("explain", DATA / "biden.jpg", "--label", "bored", "-o", tmp_path / "x.png",
                              timeout=300), "bored")
