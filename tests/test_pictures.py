"""Still pictures through the whole command line: one file, a folder, a pattern; big pictures, small faces."""

import json

import cv2
import numpy as np
from conftest import DATA, assert_user_error, frame_lines, run_cli

from pi_emotion.perception import detectors


def press_photo(photos, tmp_path):
    """A 2000x1400 picture with three faces about 80 px across: at 320 px wide they would be 13 px."""
    canvas = np.full((1400, 2000, 3), 90, np.uint8)
    two = cv2.resize(photos["two_people"], (600, 352), interpolation=cv2.INTER_AREA)
    one = cv2.resize(photos["obama-480p"], (500, 281), interpolation=cv2.INTER_AREA)
    canvas[300:652, 200:800] = two
    canvas[800:1081, 1300:1800] = one
    path = tmp_path / "press.jpg"
    cv2.imwrite(str(path), canvas)
    return path, canvas


def test_a_big_picture_with_small_faces_is_searched_at_a_size_that_suits_it(photos, tmp_path):
    _, canvas = press_photo(photos, tmp_path)
    grey = cv2.cvtColor(canvas, cv2.COLOR_BGR2GRAY)
    yunet = detectors.create("yunet")
    assert len(yunet.detect(canvas, grey)) < 3  # the video path's fixed 320 px
    assert len(yunet.detect_picture(canvas, grey)) == 3


def test_folder_pattern_and_file_sources_print_one_line_per_picture(tmp_path):
    out = tmp_path / "annotated"
    events = tmp_path / "e.jsonl"
    proc = run_cli("--source", DATA, "--output", out, "--events", events)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [ln.split(":")[0] for ln in lines] == [str(DATA / f"{n}.jpg") for n in ("biden", "obama-480p", "two_people")]
    assert lines[2].split(": ")[1] == "2 faces"
    assert "happy" in lines[1]
    written = sorted(p.name for p in out.iterdir())
    assert written == ["biden.jpg", "obama-480p.jpg", "two_people.jpg"]
    annotated, original = cv2.imread(str(out / "obama-480p.jpg")), cv2.imread(str(DATA / "obama-480p.jpg"))
    assert annotated.shape == original.shape and np.abs(annotated.astype(int) - original).max() > 100  # boxes drawn
    records = [json.loads(line) for line in frame_lines(events)]
    assert [len(r["faces"]) for r in records] == [1, 1, 2] and records[2]["picture"].endswith("two_people.jpg")
    assert {f["track"] for r in records for f in r["faces"]} == {1, 2}  # no face is followed across pictures
    pattern = run_cli("--source", DATA / "*people*.jpg", "--detector", "haar")
    assert pattern.returncode == 0 and len(pattern.stdout.splitlines()) == 1
    single = run_cli("--source", DATA / "obama-480p.jpg")
    assert single.returncode == 0 and single.stdout.startswith(str(DATA / "obama-480p.jpg") + ": 1 face:")


def test_a_press_photo_finds_all_its_faces_through_the_cli(photos, tmp_path):
    path, _ = press_photo(photos, tmp_path)
    proc = run_cli("--source", path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split(": ")[1] == "3 faces"


def test_an_unreadable_picture_is_reported_and_the_rest_go_on(tmp_path, photos):
    cv2.imwrite(str(tmp_path / "a.jpg"), photos["obama-480p"])
    (tmp_path / "b.jpg").write_bytes(b"not a jpeg at all")
    proc = run_cli("--source", tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.startswith(str(tmp_path / "a.jpg") + ": 1 face")
    assert "b.jpg is not a readable picture" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_picture_sources_are_one_line_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_user_error(run_cli("--source", tmp_path / "empty"), "no pictures found")
    assert_user_error(run_cli("--source", tmp_path / "*.png"), "no pictures found")
    assert_user_error(run_cli("--source", DATA / "obama-480p.jpg", "--output", tmp_path / "x.mp4"), "folder")
