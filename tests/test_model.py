"""Training, conversion and evaluation for real (TensorFlow), and the shipped model's accuracy."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import DATA, MODEL, ROOT, assert_user_error, frame_lines, run_cli

from pi_emotion.datasets import fer2013
from pi_emotion.perception import detectors
from pi_emotion.perception.classify import EmotionClassifier
from pi_emotion.perception.modelmeta import FER2013_LABELS
from pi_emotion.results.frame import Detection

FER_SAMPLE = DATA / "fer2013-sample.csv.gz"
LEGACY = DATA / "fer2013_mini_XCEPTION.102-0.66.hdf5"
# `pi-emotion evaluate --model models/emotion.tflite --data tests/data/fer2013-sample.csv.gz --json`
SHIPPED_SAMPLE_ACCURACY = 0.6833
# the same with `--degrade` (the camera-condition copy, seed 0)
SHIPPED_SAMPLE_DEGRADED_ACCURACY = 0.5267
# `pi-emotion evaluate --model models/emotion-5class.tflite --data tests/data/fer2013-sample.csv.gz --json`
FIVE_CLASS = "emotion-5class.tflite"
FIVE_CLASS_SAMPLE_ACCURACY = 0.7727

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


def test_shipped_model_on_the_camera_condition_copy_of_the_sample():
    report = evaluate_json("--model", MODEL, "--degrade")
    assert report["n"] == 600 and report["split"] == "PublicTest" and report["degrade_seed"] == 0
    assert report["accuracy"] == pytest.approx(SHIPPED_SAMPLE_DEGRADED_ACCURACY, abs=0.002)
    other_seed = evaluate_json("--model", MODEL, "--degrade", "--seed", "1")
    assert other_seed["degrade_seed"] == 1 and other_seed["confusion"] != report["confusion"]
    proc = run_cli("evaluate", "--model", MODEL, "--data", FER_SAMPLE, "--degrade")
    assert "(PublicTest, validation, 600 faces, camera conditions, seed 0)" in proc.stdout.splitlines()[0]


def test_the_shipped_five_class_model_is_picked_by_name_and_reaches_its_recorded_accuracy(tmp_path):
    report = evaluate_json("--model", ROOT / "models" / FIVE_CLASS)
    five = ["happy", "sad", "angry", "surprise", "neutral"]
    assert report["labels"] == five and report["n"] < 600
    assert report["accuracy"] == pytest.approx(FIVE_CLASS_SAMPLE_ACCURACY, abs=0.002)
    events = tmp_path / "events.jsonl"
    proc = run_cli("--source", DATA / "sample.mp4", "--model", FIVE_CLASS, "--max-frames", "20", "--events", events)
    assert proc.returncode == 0, proc.stderr
    faces = [f for line in frame_lines(events) for f in json.loads(line)["faces"]]
    assert faces and all(set(f["scores"]) == set(five) for f in faces)
    proc = run_cli("--source", DATA / "sample.mp4", "--model", "no-such-model.tflite", "--max-frames", "1")
    assert_user_error(proc, "no-such-model.tflite", "not found")


def test_evaluate_names_a_split_only_where_the_data_has_one(tmp_path):
    sample = fer2013.load(FER_SAMPLE, "PublicTest")
    for i, (face, label) in enumerate(zip(sample.images[:40], sample.labels[:40])):
        folder = tmp_path / "faces" / FER2013_LABELS[label]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{i}.png"), face)
    proc = run_cli("evaluate", "--model", MODEL, "--data", tmp_path / "faces")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].endswith("(40 faces)") and "PublicTest" not in proc.stdout
    assert evaluate_json("--model", MODEL)["split"] == "PublicTest"


def test_evaluating_a_keras_model_without_tensorflow_says_what_to_install():
    # an appliance install: neither TensorFlow nor Keras can be imported
    code = ("import sys; sys.modules['tensorflow'] = sys.modules['keras'] = None; "
            "from pi_emotion.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, "evaluate", "--model", str(ROOT / "models/emotion.keras"),
                           "--data", str(FER_SAMPLE)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert_user_error(proc, "emotion.keras", "pip install 'pi-emotion[train]'")


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
    rows = report["by_confidence"]  # what min_confidence trades: fewer labels, more of them right
    labelled = [r["labelled"] for r in rows]
    assert labelled == sorted(labelled, reverse=True) and labelled[0] <= 1
    assert rows[-1]["accuracy_labelled"] > report["accuracy"] > rows[-1]["accuracy_uncertain"]


def test_evaluate_detect_scores_the_appliance_crop_path():
    """Dataset faces placed into larger pictures, found and cropped as the appliance does."""
    reports = {name: evaluate_json("--model", MODEL, "--detect", "--detector", name, "--limit", "200")
               for name in ("haar", "yunet")}
    for r in reports.values():
        assert r["pictures"] == 200 == r["found"] + r["missed"]
        assert np.array(r["confusion"]).sum() == r["found"]
        assert r["accuracy"] == pytest.approx(r["accuracy_found"] * r["found"] / 200, abs=1e-9)
    assert reports["yunet"]["found"] > reports["haar"]["found"]
    assert reports["yunet"]["accuracy_found"] > 0.55


@pytest.mark.parametrize("name", ["haar", "yunet"])
def test_shipped_model_sees_the_smile(photos, name):
    detector = detectors.create(name)
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
    assert "epoch 1/1:" in proc.stdout and "epoch 1/1:" in (run_dir / "train.log").read_text()
    for name in ("model.h5", "model.keras", "model.json", "checkpoint.npz", "best.weights.h5", "history.csv"):
        assert (run_dir / name).exists(), name
    tflite = tmp_path / "tiny.tflite"
    proc = run_cli("convert", run_dir / "model.h5", "-o", tflite, "--calibration", FER_SAMPLE,
                   "--samples", "64", timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "int8" in proc.stdout and "agreement" in proc.stdout
    report = evaluate_json("--model", tflite)
    assert report["n"] == 600 and 0 <= report["accuracy"] <= 1


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


@needs_tf
def test_convert_options_override_the_metadata_beside_the_model_and_keep_the_rest(tmp_path):
    """Renaming the classes must not drop the per-crop preprocessing the network was trained with."""
    names = "a,b,c,d,e,f,g"
    out = tmp_path / "renamed.tflite"
    proc = run_cli("convert", ROOT / "models/emotion.keras", "-o", out, "--labels", names, "--float", timeout=300)
    assert proc.returncode == 0, proc.stderr
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["labels"] == names.split(",") and meta["preprocess"] == "stretch"


def test_a_shipped_model_is_named_with_or_without_its_suffix(tmp_path, monkeypatch):
    from pi_emotion import paths

    five = ROOT / "models" / FIVE_CLASS
    assert paths.model_path(FIVE_CLASS) == five
    assert paths.model_path(FIVE_CLASS.removesuffix(".tflite")) == five
    assert paths.model_path("") == ROOT / "models" / "emotion.tflite"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "emotion-5class").write_bytes(b"")  # a file of that name here is what the user means
    assert paths.model_path("emotion-5class") == Path("emotion-5class")
    assert not paths.model_path("no-such-model").exists()
