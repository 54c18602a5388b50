"""Training, conversion and evaluation for real (TensorFlow), and the shipped model's accuracy."""

import json

import cv2
import numpy as np
import pytest
from conftest import DATA, MODEL, assert_user_error, run_cli

from pi_emotion import detectors
from pi_emotion.classify import EmotionClassifier
from pi_emotion.config import Settings
from pi_emotion.results import Detection

FER_SAMPLE = DATA / "fer2013-sample.csv.gz"
LEGACY = DATA / "fer2013_mini_XCEPTION.102-0.66.hdf5"
# `pi-emotion evaluate --model models/emotion.tflite --data tests/data/fer2013-sample.csv.gz --json`
SHIPPED_SAMPLE_ACCURACY = 0.6817

try:
    import tensorflow  # noqa: F401

    HAVE_TF = True
except ImportError:
    HAVE_TF = False
needs_tf = pytest.mark.skipif(not HAVE_TF, reason="needs the training extra (TensorFlow)")


def evaluate_json(*args):
    proc = run_cli("evaluate", "--data", FER_SAMPLE, "--json", *args, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_shipped_model_reaches_its_recorded_accuracy_on_the_sample():
    report = evaluate_json("--model", MODEL)
    assert report["n"] == 600
    assert report["accuracy"] == pytest.approx(SHIPPED_SAMPLE_ACCURACY, abs=0.002)


def test_evaluate_json_schema(tmp_path):
    report = evaluate_json("--model", MODEL, "--plot", tmp_path / "cm.png")
    assert {"accuracy", "n", "per_class", "confusion", "labels", "latency_ms"} <= set(report)
    k = len(report["labels"])
    cm = np.array(report["confusion"])
    assert cm.shape == (k, k) and cm.sum() == report["n"]
    assert np.trace(cm) / cm.sum() == pytest.approx(report["accuracy"])
    assert set(report["per_class"]) == set(report["labels"])
    assert all({"precision", "recall", "f1", "support"} <= set(v) for v in report["per_class"].values())
    png = cv2.imread(str(tmp_path / "cm.png"))
    assert png is not None and png.shape[0] > 300


@pytest.mark.parametrize("name", ["haar", "yunet"])
def test_shipped_model_sees_the_smile(photos, name):
    detector = detectors.create(Settings(detector=name))
    classifier = EmotionClassifier(MODEL)
    image = photos["obama-480p"]
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    probs = classifier.classify(grey, detector.detect_picture(image, grey))
    assert classifier.labels[int(probs[0].argmax())] == "happy"


def test_batch_and_single_inference_agree(photos):
    classifier = EmotionClassifier(MODEL)
    grey = cv2.cvtColor(photos["two_people"], cv2.COLOR_BGR2GRAY)
    faces = [Detection((236, 27, 177, 177)), Detection((785, 60, 178, 178))]
    batch = classifier.classify(grey, faces)
    single = np.concatenate([classifier.classify(grey, [f]) for f in faces])
    assert np.allclose(batch, single, atol=1e-6)
    assert np.allclose(batch.sum(1), 1.0)


def test_evaluate_rejects_bad_model_and_data(tmp_path):
    assert_user_error(run_cli("evaluate", "--model", tmp_path / "m.onnx", "--data", FER_SAMPLE), ".tflite")
    assert_user_error(run_cli("evaluate", "--model", MODEL, "--data", tmp_path / "none.csv"), "does not exist")


@needs_tf
def test_tiny_training_run_converts_and_evaluates(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli("train", "--data", FER_SAMPLE, "--out", run_dir, "--epochs", "1", "--limit", "256",
                   "--arch", "small", timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "283,119 parameters" in proc.stdout  # the size the model card describes for --arch small
    assert "epoch 1:" in proc.stdout and (run_dir / "train.log").read_text().startswith("epoch 1:")
    for name in ("model.h5", "model.keras", "model.json", "last.keras", "history.csv"):
        assert (run_dir / name).exists(), name
    tflite = tmp_path / "tiny.tflite"
    proc = run_cli("convert", run_dir / "model.h5", "-o", tflite, "--calibration", FER_SAMPLE,
                   "--samples", "64", timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "int8" in proc.stdout and "agreement" in proc.stdout
    report = evaluate_json("--model", tflite)
    assert report["n"] == 600 and 0 <= report["accuracy"] <= 1
    # resume picks up after the last finished epoch
    proc = run_cli("train", "--data", FER_SAMPLE, "--out", run_dir, "--epochs", "2", "--limit", "256", "--resume",
                   timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "resuming after epoch 1" in proc.stdout and "epoch 2:" in proc.stdout


@needs_tf
def test_third_party_legacy_keras2_model_converts_and_runs(tmp_path, photos):
    out = tmp_path / "mini_xception.tflite"
    proc = run_cli("convert", LEGACY, "-o", out, "--calibration", FER_SAMPLE, "--input-range=-1,1",
                   timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "input 64x64x1" in proc.stdout
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["input_size"] == [64, 64] and meta["scale"] == pytest.approx(1 / 127.5) and meta["offset"] == -1
    report = evaluate_json("--model", out)
    assert report["accuracy"] > 0.55  # its authors report about 66% on the held-out FER2013 rows
    proc = run_cli("--source", DATA / "sample.mp4", "--model", out, "--max-frames", "30")
    assert proc.returncode == 0, proc.stderr
    assert "frames      30" in proc.stdout


@needs_tf
def test_convert_needs_to_know_what_it_cannot_guess(tmp_path):
    assert_user_error(run_cli("convert", LEGACY, "--calibration", FER_SAMPLE, "-o", tmp_path / "a.tflite"),
                      "--input-range")
    assert_user_error(run_cli("convert", LEGACY, "--input-range=-1,1", "-o", tmp_path / "a.tflite"),
                      "--calibration")
    bad = tmp_path / "broken.h5"
    bad.write_bytes(LEGACY.read_bytes()[:5000])
    assert_user_error(run_cli("convert", bad, "--float", "--input-range=-1,1"), "could not be loaded")
