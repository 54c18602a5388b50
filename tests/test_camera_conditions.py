"""The camera-condition transform and the per-crop normalisation, on real FER2013 faces."""

import json
import shutil

import cv2
import numpy as np
import pytest
from conftest import DATA, MODEL

from pi_emotion.datasets import camera_conditions, fer2013
from pi_emotion.errors import UserError
from pi_emotion.perception import preprocess
from pi_emotion.perception.classify import EmotionClassifier
from pi_emotion.perception.modelmeta import ModelMeta, meta_path


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    return fer2013.load(DATA / "fer2013-sample.csv.gz", "PublicTest").images[:64]


def detail_above(images: np.ndarray, side: int) -> float:
    """Mean absolute change when the faces go through ``side`` pixels and back: what a ``side``-px face lacks."""
    h, w = images.shape[1:]
    back = [cv2.resize(cv2.resize(x, (side, side), interpolation=cv2.INTER_AREA), (w, h),
                       interpolation=cv2.INTER_AREA) for x in images]
    return float(np.mean(np.abs(images.astype(float) - np.array(back, float))))


def test_degrade_is_deterministic_for_a_seed_and_per_face(faces):
    a = camera_conditions.degrade(faces, seed=3)
    assert a.dtype == np.uint8 and a.shape == faces.shape
    assert np.array_equal(a, camera_conditions.degrade(faces, seed=3))
    assert np.array_equal(a[10:20], camera_conditions.degrade(faces[:20], seed=3)[10:20])  # batch does not matter
    assert not np.array_equal(a, camera_conditions.degrade(faces, seed=4))


def test_degrade_darkens_flattens_and_shrinks(faces):
    d = camera_conditions.degrade(faces, seed=0)
    assert d.mean() < 0.65 * faces.mean()
    assert d.std(axis=(1, 2)).mean() < 0.6 * faces.std(axis=(1, 2)).mean()
    # for its contrast, the copy holds less detail beyond what a 32-px face has than the original
    assert detail_above(d, 32) / d.std() < 0.7 * detail_above(faces, 32) / faces.std()


def test_each_step_does_what_the_module_says(faces):
    face = faces[0]
    rng = np.random.default_rng(0)
    clean = camera_conditions.Conditions(contrast=(1, 1), exposure=(1, 1), gamma=(1, 1), size=(48, 48),
                                         blur=(0, 0), noise=(0, 0), jpeg=(100, 100))
    assert np.array_equal(camera_conditions.apply(face, camera_conditions.draw(clean, rng, 1), 0), face)
    half = camera_conditions.draw(camera_conditions.Conditions(**{**clean.__dict__, "exposure": (0.5, 0.5)}), rng, 1)
    assert np.abs(camera_conditions.apply(face, half, 0).astype(float) - face / 2).max() <= 0.5
    small = camera_conditions.draw(camera_conditions.Conditions(**{**clean.__dict__, "size": (24, 24)}), rng, 1)
    down_up = cv2.resize(cv2.resize(face, (24, 24), interpolation=cv2.INTER_AREA), (48, 48),
                         interpolation=cv2.INTER_LINEAR)
    assert np.abs(camera_conditions.apply(face, small, 0).astype(int) - down_up).max() <= 1
    p = camera_conditions.draw(camera_conditions.TRAINING, np.random.default_rng(1), 500)
    assert p.size.min() >= 16 and p.size.max() <= 48 and p.jpeg.min() >= 30 and p.jpeg.max() <= 95


def test_stretch_restores_the_contrast_of_a_dim_face(faces):
    dim = camera_conditions.degrade(faces, seed=0)
    out = preprocess.stretch(dim)
    assert out.dtype == np.uint8 and out.shape == dim.shape
    lo, hi = np.percentile(out.reshape(len(out), -1), [1, 99], axis=1)
    assert np.all(lo <= 3) and np.all(hi >= 252)
    assert out.std() > 2 * dim.std()
    flat = np.full((2, 48, 48, 1), 77, np.uint8)
    assert np.array_equal(preprocess.stretch(flat), flat)
    assert preprocess.stretch(np.zeros((0, 48, 48, 1), np.uint8)).shape == (0, 48, 48, 1)


def test_metadata_names_the_preprocessing(tmp_path):
    path = tmp_path / "m.json"
    ModelMeta(preprocess="stretch").save(path)
    assert ModelMeta.load(path).preprocess == "stretch"
    data = json.loads(path.read_text())
    del data["preprocess"]
    path.write_text(json.dumps(data))
    assert ModelMeta.load(path).preprocess == "none"  # metadata written before the field existed
    data["preprocess"] = "sharpen"
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match="sharpen"):
        ModelMeta.load(path)


def test_the_classifier_applies_the_preprocessing_its_metadata_names(tmp_path, faces):
    meta = ModelMeta.load(meta_path(MODEL))
    models = {}
    for name in ("none", "stretch"):
        models[name] = tmp_path / f"{name}.tflite"
        shutil.copy(MODEL, models[name])
        ModelMeta(meta.labels, meta.input_size, meta.channels, meta.scale, meta.offset, name).save(
            meta_path(models[name]))
    dim = camera_conditions.degrade(faces, seed=0)[..., None]
    plain, stretched = EmotionClassifier(models["none"]), EmotionClassifier(models["stretch"])
    assert np.allclose(stretched.predict(dim), plain.predict(preprocess.stretch(dim)), atol=1e-6)
    assert not np.allclose(stretched.predict(dim), plain.predict(dim), atol=1e-3)
