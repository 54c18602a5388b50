"""The two data layouts people have, on fixtures made here, good and malformed."""

import gzip

import cv2
import numpy as np
import pytest
from conftest import DATA
from hypothesis import given, settings
from hypothesis import strategies as st

from pi_emotion.datasets import fer2013
from pi_emotion.errors import UserError

PIXELS = " ".join(["128"] * 2304)


def write_csv(path, rows, header="emotion,pixels,Usage"):
    text = header + "\n" + "\n".join(rows) + "\n"
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def test_csv_plain_and_gz_filtered_by_usage(tmp_path):
    rows = [f"3,{PIXELS},Training", f"6,{PIXELS},PublicTest", f"0,{PIXELS},PrivateTest"]
    for name in ("f.csv", "f.csv.gz"):
        path = write_csv(tmp_path / name, rows)
        assert fer2013.load(path, "all").labels.tolist() == [3, 6, 0]
        public = fer2013.load(path, "PublicTest")
        assert public.labels.tolist() == [6] and public.images.shape == (1, 48, 48)
        assert fer2013.load(path, "all", size=(64, 64)).images.shape == (3, 64, 64)


def test_the_bundled_fer_sample_has_both_usages():
    train = fer2013.load(DATA / "fer2013-sample.csv.gz", "Training")
    val = fer2013.load(DATA / "fer2013-sample.csv.gz", "PublicTest")
    assert (len(train), len(val)) == (400, 600)
    assert train.images.dtype == np.uint8 and 100 < train.images.mean() < 160


@pytest.mark.parametrize("row, message", [
    ("9,{p},Training", "not a class index"),
    ("x,{p},Training", "not a class index"),
    ("3,1 2 3,Training", "square"),
    ("3,{p} 7,Training", "square"),
    ("3,{bad},Training", "integers"),
    ("3,{big},Training", "0..255"),
    ("3", "field"),
])
def test_malformed_rows_name_the_line(tmp_path, row, message):
    row = row.format(p=PIXELS, bad=PIXELS.replace("128", "a", 1), big=PIXELS.replace("128", "999", 1))
    path = write_csv(tmp_path / "bad.csv", [f"3,{PIXELS},Training", row])
    with pytest.raises(UserError, match=message) as err:
        fer2013.load(path)
    assert "bad.csv:3" in str(err.value)


def test_not_a_fer_csv_and_empty_usage_are_clear(tmp_path):
    with pytest.raises(UserError, match="header"):
        fer2013.load(write_csv(tmp_path / "x.csv", ["1,2"], header="a,b"))
    with pytest.raises(UserError, match="no images"):
        fer2013.load(write_csv(tmp_path / "y.csv", [f"3,{PIXELS},Training"]), "PublicTest")
    with pytest.raises(UserError, match="--usage"):
        fer2013.load(tmp_path / "y.csv", "Test")
    with pytest.raises(UserError, match="does not exist"):
        fer2013.load(tmp_path / "none.csv")


def make_folders(root, layout):
    for rel, colour in layout.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        image = np.full((96, 80, 3) if colour else (30, 30), 100, np.uint8)
        cv2.imwrite(str(root / rel), image)


def test_class_folders_with_synonyms_and_splits(tmp_path):
    make_folders(tmp_path, {"train/happiness/a.png": True, "train/anger/b.jpg": False, "train/sad/c.png": True,
                            "test/neutral/d.png": True, "test/contempt/e.png": True})
    train = fer2013.load(tmp_path, "Training")
    assert sorted(train.labels.tolist()) == [0, 3, 4] and train.images.shape == (3, 48, 48)
    assert fer2013.load(tmp_path, "PublicTest").labels.tolist() == [6]  # contempt is not a FER class
    assert len(fer2013.load(tmp_path, "all")) == 4


def test_unknown_class_folder_and_empty_folders_are_clear(tmp_path):
    make_folders(tmp_path / "a", {"happy/x.png": True, "bored/y.png": True})
    with pytest.raises(UserError, match="bored"):
        fer2013.load(tmp_path / "a")
    (tmp_path / "b").mkdir()
    with pytest.raises(UserError, match="no class folders"):
        fer2013.load(tmp_path / "b")
    (tmp_path / "c" / "happy").mkdir(parents=True)
    with pytest.raises(UserError, match="no images"):
        fer2013.load(tmp_path / "c")


BREAKS = {  # a way to spoil a row, and what the error must say
    "label": (lambda label, pixels, usage: f"{label + 7},{pixels},{usage}", "is not a class index"),
    "square": (lambda label, pixels, usage: f"{label},{pixels} 5,{usage}", "do not make a square image"),
    "range": (lambda label, pixels, usage: f"{label},256 {pixels[pixels.index(' ') + 1:]},{usage}", "0..255"),
    "word": (lambda label, pixels, usage: f"{label},x {pixels[pixels.index(' ') + 1:]},{usage}", "integers"),
    "fields": (lambda label, pixels, usage: f"{label}", "field(s)"),
}
row_strategy = st.tuples(st.integers(0, 6), st.integers(8, 16), st.integers(0, 255),
                         st.sampled_from(["Training", "PublicTest", "PrivateTest"]),
                         st.sampled_from([None, None, None, *BREAKS]))


@settings(max_examples=150, deadline=None)
@given(st.lists(row_strategy, min_size=1, max_size=6))
def test_rows_load_as_written_or_the_first_bad_one_is_named(tmp_path_factory, rows):
    """Rows of any square size and value are read back as written; a spoilt row is named by its line."""
    lines, expected = [], []
    for label, side, value, usage, broken in rows:
        pixels = " ".join([str(value)] * (side * side))
        lines.append(BREAKS[broken][0](label, pixels, usage) if broken else f"{label},{pixels},{usage}")
        expected.append((label, value, broken))
    path = write_csv(tmp_path_factory.mktemp("rows") / "f.csv", lines)
    first_bad = next((i for i, (_, _, broken) in enumerate(expected) if broken), None)
    if first_bad is None:
        data = fer2013.load(path)
        assert data.labels.tolist() == [label for label, _, _ in expected]
        assert data.images.shape == (len(rows), 48, 48)
        assert [int(img[24, 24]) for img in data.images] == [value for _, value, _ in expected]  # flat images stay flat
    else:
        with pytest.raises(UserError) as error:
            fer2013.load(path)
        assert f"f.csv:{first_bad + 2}:" in str(error.value) and BREAKS[expected[first_bad][2]][1] in str(error.value)
