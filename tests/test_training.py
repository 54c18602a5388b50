"""The training recipe and its exact resumption: augmentation and options here, real TensorFlow runs (slow)."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, ROOT, assert_user_error, frame_lines, run_cli

from pi_emotion.datasets import camera_conditions, fer2013
from pi_emotion.errors import UserError
from pi_emotion.perception.model_work import model_work
from pi_emotion.training import augment, recipe
from pi_emotion.training.recipe import BATCH, TrainOptions
from pi_emotion.training.run_folder import RunFolder

FER_SAMPLE = DATA / "fer2013-sample.csv.gz"
FIVE = "happy,sad,angry,surprise,neutral"
# the whole recipe at once, so that every piece of state is exercised on resumption
RECIPE = ("--limit", "256", "--arch", "small", "--camera", "0.5", "--erase", "0.5", "--turn", "0.5", "--mixup", "0.2",
          "--ema", "0.99", "--normalise", "stretch", "--optimizer", "sgd")
ONE_THREAD = {**os.environ, "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1"}

try:
    import tensorflow  # noqa: F401

    HAVE_TF = True
except ImportError:
    HAVE_TF = False
needs_tf = pytest.mark.skipif(not HAVE_TF, reason="needs the training extra (TensorFlow)")


def slow_tf(test):
    """Real TensorFlow training: slow, and skipped without the training extra."""
    return pytest.mark.slow(needs_tf(test))


@pytest.fixture(scope="module")
def faces():
    train = fer2013.load(FER_SAMPLE, "Training")
    return train.images, np.eye(7, dtype=np.float32)[train.labels], np.ones(len(train), np.float32)


def epoch(faces, epoch_index=0, **kw):
    from pi_emotion.perception.preprocess import normaliser

    o = TrainOptions(Path(), Path(), **kw)
    return augment.make_epoch(*faces, o, epoch_index, normaliser(o.normalise))


def test_an_epoch_is_a_pure_function_of_seed_and_epoch(faces):
    full = {"camera": 0.5, "erase": 0.5, "turn": 0.5, "mixup": 0.2, "normalise": "stretch"}
    a = epoch(faces, 3, **full)
    assert a.faces.shape == (len(faces[0]) // BATCH * BATCH, 48, 48, 1) and a.faces.dtype == np.float32
    b = epoch(faces, 3, **full)
    assert np.array_equal(a.faces, b.faces) and np.array_equal(a.targets, b.targets)
    assert not np.array_equal(a.faces, epoch(faces, 4, **full).faces)
    assert not np.array_equal(a.faces, epoch(faces, 3, seed=2, **full).faces)
    assert np.allclose(a.targets.sum(1), 1) and len(np.unique(a.targets.max(1))) > 2  # mixed targets


def test_each_piece_of_augmentation_does_its_part(faces):
    plain = epoch(faces)
    assert 0 <= plain.faces.min() and plain.faces.max() <= 255
    assert set(np.unique(plain.targets)) == {0.0, 1.0}  # no mixup: one-hot targets
    dim = epoch(faces, camera=1.0)
    assert dim.faces.mean() < 0.8 * plain.faces.mean()
    stretched = epoch(faces, camera=1.0, normalise="stretch")
    assert stretched.faces.std() > 1.3 * dim.faces.std()
    still = epoch(faces, rotate=0, zoom=0, shift=0)
    erased = epoch(faces, rotate=0, zoom=0, shift=0, erase=1.0)
    changed = np.mean(erased.faces != still.faces, axis=(1, 2, 3))
    assert np.all(changed > 0.005) and np.all(changed < 0.3)
    images = faces[0][:200]
    moved = np.abs(augment.turn(images, np.random.default_rng(0), 1.0).astype(float) - images).mean(axis=(1, 2))
    assert np.mean(moved > 1) > 0.8  # nearly every face warped (a few barely: drawn near frontal)
    assert np.array_equal(augment.turn(images, np.random.default_rng(0), 0.0), images)


def test_without_turn_an_epoch_draws_exactly_as_before_turn_existed(faces, monkeypatch):
    """Runs started before --turn existed resume with the same augmentation: no turn, no draws for it."""
    def never(*args):
        raise AssertionError("turn drawn for a run without --turn")

    monkeypatch.setattr(augment, "turn", never)
    epoch(faces, camera=0.5, erase=0.5, mixup=0.2)


def signed_turn(landmarks) -> float:
    """``align.turn_of`` with its sign: positive when the nose lies right of the eyes' midline."""
    (rx, ry), (lx, ly), (nx, ny) = landmarks[:3]
    ex, ey = lx - rx, ly - ry
    return ((nx - (rx + lx) / 2) * ex + (ny - (ry + ly) / 2) * ey) / (ex * ex + ey * ey)


def test_the_turn_warp_turns_a_real_face_as_the_detector_measures_it():
    """A real frontal face, warped, is seen by YuNet as turned towards the far side, more for a larger warp."""
    import cv2

    from pi_emotion.perception import detectors

    yunet = detectors.create("yunet")
    grey = cv2.cvtColor(cv2.imread(str(DATA / "obama-480p.jpg")), cv2.COLOR_BGR2GRAY)
    (face,) = yunet.detect_picture(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), grey)
    x, y, w, h = face.box
    side = int(1.3 * w)  # a square around the face, with some margin as FER2013's faces have
    top, left = y + (h - side) // 2, x + (w - side) // 2
    crop = grey[top:top + side, left:left + side]

    def seen(midline: float) -> float:
        canvas = grey.copy()  # the warped face back in its photo
        far_height = augment.TURN_FAR_HEIGHT if midline else 0.0  # no warp at all in the middle
        canvas[top:top + side, left:left + side] = augment.turned(crop, midline, far_height)
        (found,) = yunet.detect_picture(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR), canvas)
        return signed_turn(found.landmarks)

    most = augment.TURN_MIDLINE
    turns = [seen(m) for m in (-most, -most / 2, 0.0, most / 2, most)]
    assert turns == sorted(turns)  # the nose follows the midline, step by step
    # about a tenth of an eye distance either way at the most: from the frontal third into the most turned one
    assert turns[0] < turns[2] - 0.07 and turns[-1] > turns[2] + 0.07
    assert abs(turns[2] - signed_turn(face.landmarks)) < 0.1  # no warp: about as the photo is


def test_a_run_recorded_before_an_option_existed_resumes_with_its_default(tmp_path):
    defaults = TrainOptions(Path(), Path()).identity()
    folder = RunFolder(tmp_path / "run")
    try:
        folder.write_options({k: v for k, v in defaults.items() if k != "turn"})  # an older run's record
        assert folder.check_options(defaults, defaults) is None
        with pytest.raises(UserError, match="turn 0.0 \\(now 0.5\\)"):
            folder.check_options({**defaults, "turn": 0.5}, defaults)
        # only the length may change, and only when asked
        longer = {**defaults, "epochs": defaults["epochs"] + 25}
        with pytest.raises(UserError, match="--reschedule"):
            folder.check_options(longer, defaults)
        assert folder.check_options(longer, defaults, reschedule=True) == defaults["epochs"] + 25
        with pytest.raises(UserError, match="turn"):
            folder.check_options({**longer, "turn": 0.5}, defaults, reschedule=True)
        folder.change_length(100)
        record = json.loads((tmp_path / "run" / "options.json").read_text())
        assert record == {k: v for k, v in {**defaults, "epochs": 100}.items() if k != "turn"}  # the rest as it was
        assert folder.check_options({**defaults, "epochs": 100}, defaults) is None
    finally:
        folder.close()


def test_pause_rules():
    o = TrainOptions(Path(), Path(), stop_after=2)
    assert not recipe.should_pause(o, 1, 1e9, 60) and recipe.should_pause(o, 2, 0, 60)
    o = TrainOptions(Path(), Path(), time_budget=10)  # minutes
    assert not recipe.should_pause(o, 5, 400, 100)  # the next epoch ends at 500 s
    assert recipe.should_pause(o, 5, 520, 100)  # it would end at 620 s, after the budget
    assert not recipe.should_pause(TrainOptions(Path(), Path()), 1000, 1e9, 1e9)


@pytest.mark.parametrize("args, words", [
    (("--classes", "happy,joy"), ["--classes"]),
    (("--classes", "happy"), ["--classes"]),
    (("--camera", "1.5"), ["--camera", "0..1"]),
    (("--ema", "0.5"), ["--ema", "0.999"]),
    (("--teacher", "nothing.npz"), ["--teacher", "does not exist"]),
    (("--optimizer", "adam"), ["--optimizer"]),
    (("--size", "8"), ["--size", "16..96"]),
    (("--dropout", "1"), ["--dropout", "0..0.9"]),
])
def test_bad_training_options_are_one_line(tmp_path, args, words):
    assert_user_error(run_cli("train", "--data", FER_SAMPLE, "--out", tmp_path / "run", *args), *words)


def test_one_process_per_run_folder(tmp_path):
    held = RunFolder(tmp_path / "run")
    try:
        proc = run_cli("train", "--data", FER_SAMPLE, "--out", tmp_path / "run", "--resume", timeout=300)
        assert_user_error(proc, "another training process")
    finally:
        held.close()
    RunFolder(tmp_path / "run").close()  # free again once the holder is gone


def final_state(run: Path) -> tuple[dict, dict]:
    with np.load(run / "checkpoint.npz") as npz:
        return json.loads(str(npz["state"])), {k: npz[k] for k in npz.files if k != "state"}


@slow_tf
def test_interrupted_and_resumed_run_ends_with_the_same_weights(tmp_path):
    teacher = tmp_path / "teacher.npz"
    proc = run_cli("soft-targets", "--data", FER_SAMPLE, "--model", ROOT / "models/emotion.tflite", "-o", teacher)
    assert proc.returncode == 0, proc.stderr
    assert "400 faces" in proc.stdout
    args = ("train", "--data", FER_SAMPLE, "--epochs", "3", *RECIPE, "--teacher", teacher)
    whole = run_cli(*args, "--out", tmp_path / "whole", timeout=600, env=ONE_THREAD)
    assert whole.returncode == 0, whole.stderr
    first = run_cli(*args, "--out", tmp_path / "parts", "--stop-after", "1", timeout=600, env=ONE_THREAD)
    assert first.returncode == 0, first.stderr
    assert "paused after epoch 1 of 3" in first.stdout
    assert_user_error(run_cli(*args, "--out", tmp_path / "parts"), "--resume")  # never overwritten by mistake
    assert_user_error(run_cli(*args, "--out", tmp_path / "parts", "--resume", "--lr", "0.5"), "lr")
    rest = run_cli(*args, "--out", tmp_path / "parts", "--resume", timeout=600, env=ONE_THREAD)
    assert rest.returncode == 0, rest.stderr
    assert "resuming after epoch 1 of 3" in rest.stdout and "epoch 3/3" in rest.stdout
    state_a, arrays_a = final_state(tmp_path / "whole")
    state_b, arrays_b = final_state(tmp_path / "parts")
    assert state_a["epoch"] == state_b["epoch"] == 3 and state_b["finished"]
    assert set(arrays_a) == set(arrays_b) and any(k.startswith("ema/") for k in arrays_a)
    for key in arrays_a:
        assert np.allclose(arrays_a[key], arrays_b[key], rtol=1e-5, atol=1e-6), key
    losses = [[h["loss"] for h in s["history"]] for s in (state_a, state_b)]
    assert np.allclose(*losses, rtol=1e-4)
    history = (tmp_path / "parts" / "history.csv").read_text().splitlines()
    assert len(history) == 4 and history[0].startswith("epoch,loss,accuracy,val_accuracy,val_camera_accuracy")
    meta = json.loads((tmp_path / "parts" / "model.json").read_text())
    assert meta["preprocess"] == "stretch" and len(meta["labels"]) == 7
    # started again when finished: nothing trains, the best epoch is exported again
    again = run_cli(*args, "--out", tmp_path / "parts", "--resume", timeout=600)
    assert again.returncode == 0 and "finished after epoch 3" in again.stdout and "epoch 4" not in again.stdout


@slow_tf
def test_a_resumed_run_can_end_sooner_and_then_matches_a_run_planned_that_long(tmp_path):
    args = ("train", "--data", FER_SAMPLE, "--limit", "128", "--arch", "small", "--warmup", "1", "--seed", "5")
    planned = run_cli(*args, "--epochs", "2", "--out", tmp_path / "planned", timeout=600, env=ONE_THREAD)
    assert planned.returncode == 0, planned.stderr
    first = run_cli(*args, "--epochs", "3", "--stop-after", "1", "--out", tmp_path / "cut", timeout=600,
                    env=ONE_THREAD)
    assert first.returncode == 0, first.stderr
    assert_user_error(run_cli(*args, "--epochs", "2", "--resume", "--out", tmp_path / "cut"), "--reschedule")
    assert_user_error(run_cli(*args, "--epochs", "1", "--resume", "--reschedule", "--out", tmp_path / "cut"),
                      "more than that")
    assert json.loads((tmp_path / "cut" / "options.json").read_text())["epochs"] == 3  # refused: nothing changed
    rest = run_cli(*args, "--epochs", "2", "--resume", "--reschedule", "--out", tmp_path / "cut", timeout=600,
                   env=ONE_THREAD)
    assert rest.returncode == 0, rest.stderr
    assert "the schedule now ends after epoch 2" in rest.stdout and "epoch 2/2" in rest.stdout
    assert json.loads((tmp_path / "cut" / "options.json").read_text())["epochs"] == 2
    assert "ends after epoch 2" in (tmp_path / "cut" / "train.log").read_text()  # the change stays on record
    (_, planned_arrays), (_, cut_arrays) = final_state(tmp_path / "planned"), final_state(tmp_path / "cut")
    for key in planned_arrays:  # the second epoch followed the two-epoch curve, not the three-epoch one
        assert np.allclose(planned_arrays[key], cut_arrays[key], rtol=1e-5, atol=1e-6), key
    assert_user_error(run_cli(*args, "--epochs", "4", "--resume", "--reschedule", "--out", tmp_path / "cut"),
                      "finished", "--init")


@slow_tf
def test_resume_on_an_empty_folder_starts_a_run(tmp_path):
    proc = run_cli("train", "--data", FER_SAMPLE, "--out", tmp_path / "run", "--epochs", "1", "--limit", "128",
                   "--arch", "small", "--resume", timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "no checkpoint" in proc.stdout and "starting a new run" in proc.stdout and "epoch 1/1" in proc.stdout


@slow_tf
def test_a_five_class_model_trains_converts_and_runs_in_the_appliance(tmp_path):
    run = tmp_path / "run"
    proc = run_cli("train", "--data", FER_SAMPLE, "--out", run, "--epochs", "1", "--limit", "256",
                   "--classes", FIVE, "--init", ROOT / "models/emotion.keras", timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "5 classes" in proc.stdout and "new: emotion" in proc.stdout  # only the 5-way layer starts afresh
    assert json.loads((run / "model.json").read_text())["labels"] == FIVE.split(",")
    tflite = tmp_path / "five.tflite"
    proc = run_cli("convert", run / "model.keras", "-o", tflite, "--calibration", FER_SAMPLE, "--samples", "64",
                   timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "5 classes: happy, sad, angry, surprise, neutral" in proc.stdout
    proc = run_cli("evaluate", "--model", tflite, "--data", FER_SAMPLE, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    public = fer2013.load(FER_SAMPLE, "PublicTest")
    assert report["labels"] == FIVE.split(",")
    assert report["n"] == int(np.isin(public.labels, [0, 3, 4, 5, 6]).sum())
    events = tmp_path / "events.jsonl"
    proc = run_cli("--source", DATA / "sample.mp4", "--model", tflite, "--max-frames", "30", "--events", events)
    assert proc.returncode == 0, proc.stderr
    faces = [f for line in frame_lines(events) for f in json.loads(line)["faces"]]
    assert faces and all(set(f["scores"]) == set(FIVE.split(",")) for f in faces)


@slow_tf
def test_a_smaller_input_keeps_every_weight_costs_its_share_and_runs_in_the_appliance(tmp_path):
    """--size 32: the shipped network's weights all fit, the appliance crops faces to 32 px, and the work falls
    with the pixels, 32^2 / 48^2 = 4/9 (the last layer's work does not shrink, so a hair more)."""
    run = tmp_path / "run"
    proc = run_cli("train", "--data", FER_SAMPLE, "--out", run, "--epochs", "1", "--limit", "256", "--size", "32",
                   "--init", ROOT / "models/emotion.keras", timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "(23 layers)" in proc.stdout  # every layer, none narrowed, none new
    assert json.loads((run / "model.json").read_text())["input_size"] == [32, 32]
    tflite = tmp_path / "small-input.tflite"
    proc = run_cli("convert", run / "model.keras", "-o", tflite, "--calibration", FER_SAMPLE, "--samples", "64",
                   timeout=600)
    assert proc.returncode == 0, proc.stderr
    ratio = model_work(tflite).macs / model_work(ROOT / "models/emotion.tflite").macs
    assert 4 / 9 < ratio < 4 / 9 + 0.005, ratio
    events = tmp_path / "events.jsonl"
    proc = run_cli("--source", DATA / "sample.mp4", "--model", tflite, "--max-frames", "30", "--events", events)
    assert proc.returncode == 0, proc.stderr
    faces = [f for line in frame_lines(events) for f in json.loads(line)["faces"]]
    assert faces and all(len(f["scores"]) == 7 for f in faces)


@needs_tf
def test_a_narrower_network_starts_from_the_strongest_channels_and_computes_the_same(tmp_path):
    """Silence a wide network's weakest channels: narrowed to the rest, it must give the same outputs."""
    from pi_emotion.training import narrow
    from pi_emotion.training.network import build

    rng = np.random.default_rng(3)
    wide, thin = build(8, (16, 32)), build(5, (10, 20))
    for layer in wide.layers:
        layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    made, _ = narrow.channel_groups(wide)
    silent = {}  # group -> channels it drops: the same ones in every batch norm of a residual group
    for layer in wide.layers:
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, var = layer.get_weights()
            n_thin = thin.get_layer(layer.name).gamma.shape[0]
            drop = silent.setdefault(made[layer.name], rng.permutation(len(gamma))[: len(gamma) - n_thin])
            gamma[drop], beta[drop] = 0, 0
            layer.set_weights([gamma, beta, mean, np.abs(var) + 0.1])
    assert set(silent) == {"stem1", "stem2", "block1_sep1", "block1_sep2", "block2_sep1", "block2_sep2"}

    weights, narrowed = narrow.narrowed_weights(thin, wide)
    assert narrowed == len(weights) == sum(1 for layer in thin.layers if layer.weights)
    for layer in thin.layers:
        if layer.weights:
            layer.set_weights(weights[layer.name])
    x = rng.uniform(0, 255, (4, 48, 48, 1)).astype(np.float32)
    assert np.allclose(thin.predict(x, verbose=0), wide.predict(x, verbose=0), atol=1e-5)
    # keeping the first channels instead breaks it: the choice is the strongest
    first = build(5, (10, 20))
    wide_by_name = {layer.name: layer for layer in wide.layers}
    for layer in first.layers:
        if layer.weights:
            layer.set_weights([w[tuple(slice(0, n) for n in t.shape)] for w, t in
                               zip(wide_by_name[layer.name].get_weights(), layer.weights)])
    assert not np.allclose(first.predict(x, verbose=0), wide.predict(x, verbose=0), atol=1e-3)


@needs_tf
def test_a_network_of_another_shape_gets_only_the_layers_that_fit_whole():
    from pi_emotion.training import narrow
    from pi_emotion.training.network import build

    wide, deeper, five = build(8, (16, 32)), build(8, (16, 32, 64)), build(8, (16, 32), num_classes=5)
    weights, narrowed = narrow.narrowed_weights(deeper, wide)
    assert narrowed == 0 and "block1_sep1" in weights and "block3_sep1" not in weights and "emotion" not in weights
    # deeper and narrower: the layers both have are narrowed as for a network of their depth; the new block
    # and the head that reads it start fresh
    weights, narrowed = narrow.narrowed_weights(build(5, (10, 20, 40)), wide)
    same_depth, _ = narrow.narrowed_weights(build(5, (10, 20)), wide)
    assert narrowed > 0 and set(weights) == set(same_depth) - {"emotion"}
    assert all(np.array_equal(a, b) for name in weights for a, b in zip(weights[name], same_depth[name]))
    weights, _ = narrow.narrowed_weights(build(5, (10,)), wide)  # shallower: its head reads the first block
    assert "block1_sep2" in weights and "emotion" not in weights
    weights, narrowed = narrow.narrowed_weights(five, wide)  # a new head: its classes cannot be chosen
    assert narrowed == 0 and "emotion" not in weights and "block2_sep2" in weights
    assert narrow.narrowed_weights(wide, build(5, (10, 20))) == ({}, 0)  # nothing widens

    import keras  # graphs that cannot be read as groups of channels: whole layers only, never a traceback

    def stack(width: int) -> keras.Model:
        return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(width, 3, name="conv"),
                                 keras.layers.BatchNormalization(name="bn")])

    def joined(width: int) -> keras.Model:
        x = keras.Input((8, 8, 1))
        a, b = keras.layers.Conv2D(width, 3, name="a")(x), keras.layers.Conv2D(4, 3, name="b")(x)
        return keras.Model(x, keras.layers.BatchNormalization(name="bn")(keras.layers.Concatenate()([a, b])))

    assert narrow.channel_groups(stack(8)) is None and narrow.channel_groups(joined(8)) is None
    weights, narrowed = narrow.narrowed_weights(stack(8), stack(8))
    assert narrowed == 0 and set(weights) == {"conv", "bn"}
    assert narrow.narrowed_weights(stack(4), stack(8)) == ({}, 0)
    weights, narrowed = narrow.narrowed_weights(joined(4), joined(8))
    assert narrowed == 0 and set(weights) == {"b"}


def test_soft_targets_average_each_face_with_its_mirror_over_the_teachers(tmp_path):
    from pi_emotion.training import teacher
    from pi_emotion.training.evaluate import evaluate, predictor

    model = ROOT / "models/emotion.tflite"
    out = tmp_path / "teacher.npz"
    made = teacher.make(FER_SAMPLE, [model, model], out)
    train = fer2013.load(FER_SAMPLE, "Training")
    predict, _ = predictor(model)
    x = train.images[..., None]
    views = [predict(x).astype(np.float64), predict(x[:, :, ::-1]).astype(np.float64)]
    expected = sum(views) / sum(views).sum(axis=1, keepdims=True)
    probs = teacher.load(out, train)
    assert made["faces"] == len(train) and probs.shape == (len(train), 7)
    assert np.allclose(probs, expected, atol=1e-5)
    # the mirror changes what the teacher says, so the average is not either view alone
    single = views[0] / views[0].sum(axis=1, keepdims=True)
    assert np.abs(probs - single).max() > 0.05
    # the teachers' ceiling on the validation faces and their camera-condition copy, the same average
    public = fer2013.load(FER_SAMPLE, "PublicTest")
    for key, faces, degrade in (("validation", public.images, None),
                                ("validation_camera", camera_conditions.degrade(public.images), 0)):
        x = faces[..., None]
        averaged = predict(x).astype(np.float64) + predict(x[:, :, ::-1]).astype(np.float64)
        assert made[key] == np.mean(averaged.argmax(1) == public.labels), key
        # `evaluate --tta` averages before it normalises: a face or two of the 600 may tip the other way
        scored = evaluate(model, FER_SAMPLE, "PublicTest", tta=True, degrade_seed=degrade, latency_runs=1)
        assert abs(made[key] - scored["accuracy"]) <= 2 / len(public), key


def test_soft_targets_can_average_over_faces_moved_a_little(tmp_path):
    from pi_emotion.training import teacher
    from pi_emotion.training.evaluate import predictor

    faces = np.arange(2 * 48 * 48, dtype=np.uint8).reshape(2, 48, 48, 1)
    two, ten = teacher.views(faces), teacher.views(faces, shifts=True)
    assert len(two) == 2 and len(ten) == 10 and all(v.shape == faces.shape for v in ten)
    assert np.array_equal(two[1], faces[:, :, ::-1]) and np.array_equal(ten[:2], two)
    assert np.array_equal(ten[2][:, :, :46], faces[:, :, 2:])  # moved 2 px to the left
    assert np.array_equal(ten[2][:, :, 46:], faces[:, :, 45:47][:, :, ::-1])  # the border reflected
    assert np.array_equal(ten[8][:, 2:], faces[:, :46])  # moved 2 px down
    assert np.array_equal(ten[3], ten[2][:, :, ::-1])  # each with its mirror

    model = ROOT / "models/emotion.tflite"
    made = teacher.make(FER_SAMPLE, [model], tmp_path / "shifted.npz", shifts=True)
    train = fer2013.load(FER_SAMPLE, "Training")
    predict, _ = predictor(model)
    total = sum(predict(v).astype(np.float64) for v in teacher.views(train.images[..., None], shifts=True))
    probs = teacher.load(tmp_path / "shifted.npz", train)
    assert np.allclose(probs, total / total.sum(axis=1, keepdims=True), atol=1e-5)
    teacher.make(FER_SAMPLE, [model], tmp_path / "mirrored.npz")
    assert np.abs(probs - teacher.load(tmp_path / "mirrored.npz", train)).max() > 0.05
    assert 0 < made["validation"] < 1 and 0 < made["validation_camera"] < 1


def test_training_curves_read_both_history_layouts_and_draw_them(tmp_path, capsys):
    import cv2

    from pi_emotion.training import curves

    keras_log = curves.read_curve(ROOT / "models/training/base-history.csv")  # epochs from 0, no copy
    assert keras_log.label == "base" and keras_log.epochs[0] == 1 and len(keras_log.epochs) == 75
    assert keras_log.camera == [] and max(keras_log.clean) == pytest.approx(0.67391, abs=1e-5)
    run = curves.read_curve(ROOT / "models/training/student")  # a run folder
    assert run.label == "student" and len(run.camera) == len(run.clean) == 60
    assert run.clean[-1] == pytest.approx(0.64224) and run.camera[-1] == pytest.approx(0.54806)
    out = tmp_path / "curves.png"
    assert curves.main([str(ROOT / "models/training/student"), str(ROOT / "models/training/base-history.csv"),
                        "-o", str(out)]) == 0
    picture = cv2.imread(str(out))
    assert picture.shape == (495, 880, 3) and picture.std() > 10  # drawn, not blank
    (tmp_path / "other.csv").write_text("frame,faces\n1,2\n")
    for bad, words in (("missing.csv", "No such file"), ("other.csv", "not a training history")):
        assert curves.main([str(tmp_path / bad), "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and words in err and err.count("\n") == 1
    for where, words in ((tmp_path / "no" / "curves.png", "No such file"), (tmp_path / "curves.pngx", "pngx")):
        assert curves.main([str(ROOT / "models/training/student"), "-o", str(where)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and words in err and err.count("\n") == 1
