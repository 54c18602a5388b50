"""``pi-emotion report`` on real events of the bundled sample: rotated files, two appliances, summaries, bad files,
recordings on their media time, analyse output."""

import csv
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import DATA, SAMPLE, assert_user_error, frame_lines, run_cli


@pytest.fixture(scope="module")
def sample_events(tmp_path_factory):
    """Real events: one run of the sample, and a second one in summary mode."""
    folder = tmp_path_factory.mktemp("events")
    proc = run_cli("--source", SAMPLE, "--loop", "--max-frames", 360, "--events", folder / "run.jsonl")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("--source", SAMPLE, "--loop", "--max-frames", 360, "--events", folder / "summary.jsonl",
                   "--events-mode", "summary", "--interval", 2, "--min-group", 1)
    assert proc.returncode == 0, proc.stderr
    return folder


def images_of(page: str) -> list[np.ndarray]:
    import base64

    out = []
    for data in re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', page):
        out.append(cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR))
    return out


def assert_self_contained(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)
    assert "url(" not in page and "<link" not in page and "<script" not in page


def test_report_of_rotated_files_and_two_appliances(sample_events, tmp_path):
    lines = [line + "\n" for line in frame_lines(sample_events / "run.jsonl")]
    start = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    for name in ("cam-a", "cam-b"):  # two appliances whose writers record wall-clock time, rotated in two files
        folder = tmp_path / name
        folder.mkdir()
        stamped = []
        for i, line in enumerate(lines):
            data = json.loads(line)
            data["ts"] = (start + timedelta(seconds=data["t"] + (7 if name == "cam-b" else 0))).isoformat()
            if i % 50 == 0 and name == "cam-b":
                data["faces"] = [{**f, "emotion": "uncertain"} for f in data["faces"]]  # a label outside the model's
            stamped.append(json.dumps(data) + "\n")
        (folder / "events.jsonl.1").write_text("".join(stamped[:200]))
        (folder / "events.jsonl").write_text("".join(stamped[200:]) + '{"type": "note", "text": "other shape"}\n')
    out, picture = tmp_path / "report.html", tmp_path / "report.png"
    proc = run_cli("report", tmp_path / "cam-a/events.jsonl.1", tmp_path / "cam-a/events.jsonl",
                   tmp_path / "cam-b/events.jsonl", tmp_path / "cam-b/events.jsonl.1", "-o", out, "--png", picture)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"rendered in \d+\.\d s", proc.stdout)
    page = out.read_text()
    assert_self_contained(page)
    figures = images_of(page)
    assert len(figures) == 4 and all(img is not None and img.shape[1] >= 800 for img in figures)
    assert "cam-a/events.jsonl" in page and "cam-b/events.jsonl" in page and "<td>all</td>" in page
    assert "2026-11-21 09:00:00" in page and "uncertain" in page
    assert page.split("</table>")[0].count("<tr>") == 4  # the totals: header, two appliances, all
    combined = cv2.imread(str(picture))
    assert combined is not None and combined.shape[1] == 1000 and combined.shape[0] > 800


def test_report_of_events_without_wall_clock_and_of_summaries(sample_events, tmp_path):
    out, older = tmp_path / "report.html", tmp_path / "run.jsonl"
    lines = [json.loads(line) for line in frame_lines(sample_events / "run.jsonl")]
    assert all("ts" in line for line in lines)
    older.write_text("".join(json.dumps({k: v for k, v in line.items() if k != "ts"}) + "\n" for line in lines))
    proc = run_cli("report", older, sample_events / "summary.jsonl", "-o", out)
    assert proc.returncode == 0, proc.stderr
    page = out.read_text()
    assert_self_contained(page)
    assert len(images_of(page)) == 4
    assert "of record (the files carry no wall-clock time)" in page
    rows = re.findall(r"<tr>(.*?)</tr>", page.split("</table>")[0])  # the totals table
    run_row = next(r for r in rows if "<td>run.jsonl</td>" in r)
    summary_row = next(r for r in rows if "<td>summary.jsonl: sample.mp4</td>" in r)  # a file source's run
    assert "<td>360</td>" in run_row and "<td>360</td>" in summary_row  # summaries count their frames


@pytest.mark.parametrize("content, words", [
    (b"", ["empty"]),
    (b"\n\n", ["empty"]),
    (b'{"frame": 0, "t": 0, "faces": []}\n{"frame": 1, "t": 0.1, "faces": [\n', [":2:", "not a JSON line"]),
    (b'{"frame": 0, "t": 0, "faces": [{"box": [0, 0, 1, 1], "track": 1}]}\n', [":1:", "face 1", "emotion"]),
    (b'{"frame": 0, "t": "soon", "faces": []}\n', [":1:", '"t"']),
    (b'{"frame": 0, "t": 0, "ts": "yesterday", "faces": []}\n', [":1:", "ISO 8601"]),
    (b'{"type": "started"}\n', ["no frame or summary lines"]),
])
def test_bad_events_files_exit_2_naming_file_and_line(tmp_path, content, words):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    assert_user_error(run_cli("report", path, "-o", tmp_path / "r.html"), str(path), *words)
    assert not (tmp_path / "r.html").exists()


def test_missing_events_file(tmp_path):
    assert_user_error(run_cli("report", tmp_path / "nope.jsonl"), "nope.jsonl", "not found")


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_recordings_are_drawn_on_their_media_time_each_run_apart(tmp_path):
    events = tmp_path / "events.jsonl"
    # a 9.2 s clip (276 frames at 30 fps: the 6 s sample and half again), processed as fast as it goes
    proc = run_cli("--source", SAMPLE, "--loop", "--max-frames", 276, "--events", events)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("--source", DATA / "steady.mp4", "--events", events)  # a second run into the same file
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    runs = [i for i, line in enumerate(lines) if line.get("type") == "run"]
    assert len(runs) == 2
    first = [line for line in lines[:runs[1]] if "faces" in line]
    processing = (datetime.fromisoformat(first[-1]["ts"]) - datetime.fromisoformat(first[0]["ts"])).total_seconds()
    out, tables = tmp_path / "report.html", tmp_path / "tables"
    proc = run_cli("report", events, "-o", out, "--csv", tables)
    assert proc.returncode == 0, proc.stderr
    page = out.read_text()
    totals = {row["series"]: row for row in read_csv(tables / "report-totals.csv")}
    assert set(totals) == {"sample.mp4", "steady.mp4", "all"}
    # the clip is as long as its media, whatever the processing took (here: processing s)
    assert float(totals["sample.mp4"]["duration_s"]) == pytest.approx(276 / 30, abs=0.02), processing
    assert int(totals["sample.mp4"]["frames"]) == 276
    timeline = read_csv(tables / "report-timeline.csv")
    assert float(timeline[0]["start"]) == 0 and 276 / 30 <= float(timeline[-1]["end"]) < 276 / 30 + 1
    assert "0 min 09 s of media time" in page and "media time (s)" not in page  # the axis label is in the PNGs
    tracks = read_csv(tables / "report-tracks.csv")
    for name, run in (("sample.mp4", first), ("steady.mp4", lines[runs[1]:])):  # faces never mixed across runs
        own = {face["track"] for line in run if "faces" in line for face in line["faces"]}
        assert sorted(int(t["track"]) for t in tracks if t["series"] == name) == sorted(own)
    for t in tracks:
        assert float(t["duration_s"]) == pytest.approx(float(t["last"]) - float(t["first"]), abs=0.002)
        assert 0 <= float(t["share_uncertain"]) <= 100 and t["dominant_emotion"] != ""
    assert page.count("<h2>Each face</h2>") == 1 and "<th>uncertain</th>" in page
    assert all(f"<td>#{t['track']}</td>" in page for t in tracks)


def test_report_of_analyse_output_agrees_with_its_tables(tmp_path):
    folder = tmp_path / "analysis"
    proc = run_cli("analyse", SAMPLE, DATA / "two_people.jpg", "-o", folder, "--jobs", 1)
    assert proc.returncode == 0, proc.stderr
    for given in (folder, folder / "faces.csv"):
        tables = tmp_path / given.name
        proc = run_cli("report", given, "-o", tmp_path / "report.html", "--csv", tables)
        assert proc.returncode == 0, proc.stderr
        totals = {row["series"]: row for row in read_csv(tables / "report-totals.csv")}
        assert float(totals["sample.mp4"]["duration_s"]) == pytest.approx(6.0, abs=0.02)
        assert int(totals["sample.mp4"]["frames"]) == 180  # frames without a face count too (files.csv)
        assert int(totals["two_people.jpg"]["faces"]) == 2
        mine = {(Path(t["series"]).name, int(t["track"])): t["dominant_emotion"]
                for t in read_csv(tables / "report-tracks.csv")}
        theirs = {(Path(t["file"]).name, int(t["track"])): t["dominant_emotion"]
                  for t in read_csv(folder / "tracks.csv")}
        assert mine == theirs


def test_a_table_that_is_not_analyse_output_exits_2(tmp_path):
    table = tmp_path / "faces.csv"
    table.write_text("name,score\nx,1\n")
    assert_user_error(run_cli("report", table, "-o", tmp_path / "r.html"), "faces.csv", "not analyse's faces table")
