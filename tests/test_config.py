import pytest
from conftest import assert_user_error, run_cli

from pi_emotion import config
from pi_emotion.errors import UserError


def write(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_flags_override_the_file_which_overrides_defaults(tmp_path):
    path = write(tmp_path, 'source = "picamera"\ndetect_width = 256\nfps = 15\nloop = true\n')
    s = config.resolve({"detect_width": 400}, path)
    default_min_face = config.Settings().min_face
    assert (s.source, s.detect_width, s.fps, s.loop, s.min_face) == ("picamera", 400, 15.0, True, default_min_face)


@pytest.mark.parametrize("text, culprit", [
    ("detect_widht = 300\n", "detect_widht"),
    ('detect_width = "wide"\n', "detect_width"),
    ("min_neighbors = -1\n", "min_neighbors"),
    ('log_level = "loud"\n', "log_level"),
    ("threads = true\n", "threads"),
    ("source = [1, 2\n", "not valid TOML"),
])
def test_bad_keys_and_values_are_named(tmp_path, text, culprit):
    with pytest.raises(UserError, match=culprit):
        config.resolve({}, write(tmp_path, text))


def test_every_setting_is_a_flag_and_a_key():
    import argparse

    parser = argparse.ArgumentParser()
    config.add_flags(parser)
    flags = {a.dest for a in parser._actions if a.dest != "help"}
    assert flags == set(config.FIELDS)


def test_print_config_shows_the_effective_settings_as_toml(tmp_path):
    import tomllib

    path = write(tmp_path, 'source = "/dev/video0"\nmargin = 0.2\n')
    proc = run_cli("--config", path, "--print-config", "--threads", "2")
    assert proc.returncode == 0, proc.stderr
    shown = tomllib.loads(proc.stdout)
    assert (shown["source"], shown["margin"], shown["threads"]) == ("/dev/video0", 0.2, 2)
    assert set(shown) == set(config.FIELDS)


def test_bad_config_file_stops_the_cli_with_its_key(tmp_path):
    assert_user_error(run_cli("--config", write(tmp_path, "colour = 1\n"), "--print-config"), "colour")
    assert_user_error(run_cli("--config", tmp_path / "none.toml", "--print-config"), "not found")
