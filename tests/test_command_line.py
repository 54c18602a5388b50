"""The command line as a person meets it: grouped help, typos, a bare file name, quiet native libraries."""

import json
import os
import re

import cv2
from conftest import DATA, SAMPLE, assert_user_error, frame_lines, run_cli

from pi_emotion import config
from pi_emotion.cli import COMMANDS
from pi_emotion.perception.native_log import filtered_stderr


def help_sections(text: str) -> dict[str, list[str]]:
    """Each ``--option`` of a help text, with the headings it is listed under."""
    sections: dict[str, list[str]] = {}
    heading = ""
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            heading = line[:-1]
        elif m := re.match(r"  (?:-\w, )?(--[\w-]+)", line):
            sections.setdefault(m.group(1), []).append(heading)
    return sections


def test_help_lists_every_option_once_under_what_it_is_for():
    proc = run_cli("--help")
    assert proc.returncode == 0, proc.stderr
    sections = help_sections(proc.stdout)
    for name, f in config.FIELDS.items():
        assert sections["--" + name.replace("_", "-")] == [config.GROUPS[f.metadata["group"]]], name
    for flag in ("--help", "--version", "--config", "--print-config"):
        assert sections[flag] == [config.GROUPS["general"]]
    headings = [line[:-1] for line in proc.stdout.splitlines() if line in {t + ":" for t in config.GROUPS.values()}]
    assert headings == list(config.GROUPS.values())  # every group, in the table's order
    assert "FILE" in proc.stdout and "examples:" in proc.stdout and "pi-emotion clip.mp4" in proc.stdout


def test_every_option_group_has_options():
    assert {f.metadata["group"] for f in config.FIELDS.values()} == set(config.GROUPS)


def test_a_mistyped_option_gets_the_closest_real_one():
    assert_user_error(run_cli("--sorce", SAMPLE), "--sorce", "did you mean --source?")
    assert_user_error(run_cli("--source", SAMPLE, "--evnets=e.jsonl"), "did you mean --events?")
    assert_user_error(run_cli("analyse", SAMPLE, "--ouptut", "out"), "--ouptut", "did you mean --output?")
    assert_user_error(run_cli("mqtt-forget", "--devce-name", "x"), "did you mean --device-name?")
    assert_user_error(run_cli("evaluat"), "did you mean pi-emotion evaluate?")
    proc = run_cli("--frobnicate")  # nothing close: named, no guess
    assert_user_error(proc, "--frobnicate")
    assert "did you mean" not in proc.stderr


def test_a_file_as_the_first_argument_runs_like_source(tmp_path):
    events = tmp_path / "e.jsonl"
    proc = run_cli(SAMPLE, "--max-frames", "12", "--events", events)
    assert proc.returncode == 0, proc.stderr
    assert len(frame_lines(events)) == 12
    assert json.loads(events.read_text().splitlines()[0])["source"] == str(SAMPLE)
    assert_user_error(run_cli(SAMPLE, "--source", SAMPLE), "once")
    assert_user_error(run_cli(SAMPLE, DATA / "scene.mp4"), "2 files", "analyse")
    assert_user_error(run_cli(tmp_path / "none.mp4"), "no such file")


def test_each_subcommand_help_shows_only_its_own_options():
    proc = run_cli("mqtt-forget", "--help")
    assert proc.returncode == 0, proc.stderr
    shown = set(help_sections(proc.stdout))
    assert {"--mqtt", "--mqtt-user", "--device-name", "--ha-prefix", "--config", "--model"} <= shown
    assert not shown & {"--source", "--width", "--fps", "--detector", "--output", "--stream", "--blur-faces"}
    for command in COMMANDS:
        proc = run_cli(command, "--help")
        assert proc.returncode == 0, (command, proc.stderr)
        assert not set(help_sections(proc.stdout)) & {"--width", "--fps", "--blur-faces", "--wait-for-source"}


def test_the_runtimes_own_log_lines_follow_log_level(tmp_path):
    proc = run_cli(SAMPLE, "--max-frames", "3", "--log-level", "info")
    assert proc.returncode == 0 and "XNNPACK" in proc.stderr, proc.stderr  # the line this is about exists
    proc = run_cli(SAMPLE, "--max-frames", "3", "--log-level", "warning")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(4000))
    for source in ("/dev/video99", junk):  # OpenCV's and FFmpeg's own complaints, said again in ours
        proc = run_cli("--source", source, "--log-level", "warning")
        assert_user_error(proc)
        assert len(proc.stderr.splitlines()) == 1, proc.stderr


def test_held_stderr_passes_on_what_it_keeps(capfd):
    with filtered_stderr(lambda line: not line.startswith("INFO: ")):
        os.write(2, b"INFO: chatter\nWARNING: something the user should see\n")
    assert capfd.readouterr().err == "WARNING: something the user should see\n"


def test_one_picture_is_written_to_the_picture_file_named(tmp_path):
    out = tmp_path / "annotated.png"
    proc = run_cli(DATA / "obama-480p.jpg", "--output", out)
    assert proc.returncode == 0, proc.stderr
    original, written = cv2.imread(str(DATA / "obama-480p.jpg")), cv2.imread(str(out))
    assert written.shape == original.shape and (written != original).any()  # the face box drawn on it
    assert_user_error(run_cli(DATA, "--output", tmp_path / "all.jpg"), "pictures need a folder")
    assert_user_error(run_cli(DATA / "obama-480p.jpg", "--output", tmp_path / "no" / "x.jpg"), "does not exist")
