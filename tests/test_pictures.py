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


def flat_share(image, box):
    """Share of neighbouring pixels that are equal inside ``box``'s middle: near 1 for flat blocks, low for a face."""
    x, y, w, h = box
    middle = image[y + h // 4:y + 3 * h // 4, x + w // 4:x + 3 * w // 4].astype(int)
    return float(np.mean(np.all(middle[:, 1:] == middle[:, :-1], axis=2)))


def test_pictures_of_one_name_keep_their_own_copies_and_faces_are_blurred(tmp_path, photos):
    shots = tmp_path / "shots"
    shots.mkdir()
    cv2.imwrite(str(shots / "a.jpg"), photos["obama-480p"])
    cv2.imwrite(str(shots / "a.png"), photos["two_people"])
    cv2.imwrite(str(shots / "b.pgm"), cv2.cvtColor(photos["biden"], cv2.COLOR_BGR2GRAY))
    out, events = tmp_path / "out", tmp_path / "e.jsonl"
    proc = run_cli("--source", shots, "--output", out, "--events", events, "--blur-faces")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "a.png", "b.pgm.png"]
    assert cv2.imread(str(out / "a.jpg")).shape == photos["obama-480p"].shape
    assert cv2.imread(str(out / "a.png")).shape == photos["two_people"].shape
    (two,) = [json.loads(line) for line in frame_lines(events) if json.loads(line)["picture"].endswith("a.png")]
    assert len(two["faces"]) == 2
    copy = cv2.imread(str(out / "a.png"))  # lossless: the blocks are exactly flat
    for f in two["faces"]:
        assert flat_share(photos["two_people"], f["box"]) < 0.3
        assert flat_share(copy, f["box"]) > 0.7


def test_a_second_picture_of_the_same_name_from_another_folder_gets_its_own_copy(tmp_path, photos):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / "a.jpg"), photos["obama-480p" if folder == "x" else "biden"])
    out = tmp_path / "out"
    assert run_cli("--source", tmp_path / "*" / "a.jpg", "--output", out).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["a-2.jpg", "a.jpg"]
    assert cv2.imread(str(out / "a-2.jpg")).shape == photos["biden"].shape


def test_picture_events_are_rotated_and_filtered_as_for_video(tmp_path, photos):
    shots = tmp_path / "shots"
    shots.mkdir()
    for i in range(8):
        cv2.imwrite(str(shots / f"{i}.jpg"), photos["two_people"])
    cv2.imwrite(str(shots / "9-empty.jpg"), np.full((240, 320, 3), 90, np.uint8))
    events = tmp_path / "e.jsonl"
    proc = run_cli("--source", shots, "--events", events, "--events-max-mb", "0.001", "--events-keep", "2",
                   "--events-mode", "faces")
    assert proc.returncode == 0, proc.stderr
    files = [events, tmp_path / "e.jsonl.1", tmp_path / "e.jsonl.2"]
    assert sorted(p.name for p in tmp_path.glob("e.jsonl*")) == sorted(p.name for p in files)
    for path in files:
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        assert lines[0]["type"] == "run" and lines[0]["settings"]["events_mode"] == "faces"
        assert all(line["faces"] for line in lines[1:]) and path.stat().st_size <= 1000 + len(json.dumps(lines[0]))
    assert "9-empty.jpg: 0 faces" in proc.stdout  # printed, but not written in faces mode
    assert not any("9-empty" in line for p in files for line in p.read_text().splitlines())


def test_aggregates_only_privacy_refuses_pictures(tmp_path):
    proc = run_cli("--source", DATA / "obama-480p.jpg", "--privacy", "aggregate", "--events", tmp_path / "e.jsonl")
    assert_user_error(proc, "--privacy aggregate", "pictures")
    assert not (tmp_path / "e.jsonl").exists()
