"""Installer, uninstaller and unit file: shellcheck, a run into a staging root, systemd's own verifier."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from pi_emotion import config

DEPLOY = ROOT / "deploy"
UNIT = ROOT / "systemd" / "pi-emotion.service"


def sh(*args, **kwargs):
    return subprocess.run(["bash", *map(str, args)], capture_output=True, text=True, timeout=60, **kwargs)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed (.ci/run installs it)")
def test_scripts_are_shellcheck_clean():
    proc = subprocess.run(["shellcheck", "-x", *map(str, DEPLOY.glob("*.sh"))], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stdout


def test_install_into_a_staging_root_lays_down_the_files(tmp_path):
    proc = sh(DEPLOY / "install.sh", "--root", tmp_path, "--no-apt", "--no-venv")
    assert proc.returncode == 0, proc.stderr
    unit = tmp_path / "etc/systemd/system/pi-emotion.service"
    conf = tmp_path / "etc/pi-emotion/config.toml"
    assert unit.read_text() == UNIT.read_text()
    assert conf.read_text() == (DEPLOY / "config.toml").read_text()
    assert oct(conf.stat().st_mode & 0o777) == "0o640"
    assert oct((tmp_path / "etc/pi-emotion/environment").stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "opt/pi-emotion/README.md").exists()
    assert "(skipped in --root" in proc.stdout and "systemctl enable --now" in proc.stdout
    # a second run keeps a configuration the user changed
    conf.write_text('source = "/dev/video0"\n')
    assert sh(DEPLOY / "install.sh", "--root", tmp_path, "--no-apt", "--no-venv").returncode == 0
    assert conf.read_text() == 'source = "/dev/video0"\n'
    # uninstall keeps the configuration unless asked
    assert sh(DEPLOY / "uninstall.sh", "--root", tmp_path).returncode == 0
    assert not unit.exists() and not (tmp_path / "opt/pi-emotion").exists() and conf.exists()
    assert sh(DEPLOY / "uninstall.sh", "--root", tmp_path, "--purge").returncode == 0
    assert not (tmp_path / "etc/pi-emotion").exists()


def test_dry_run_changes_nothing_and_prints_every_action(tmp_path):
    proc = sh(DEPLOY / "install.sh", "--root", tmp_path, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert list(tmp_path.iterdir()) == []
    for action in ("apt-get install", "python3 -m venv --system-site-packages", "pip install",
                   "config.toml", "pi-emotion.service", "systemctl enable"):
        assert action in proc.stdout, action


def test_unknown_option_is_refused():
    proc = sh(DEPLOY / "install.sh", "--frobnicate")
    assert proc.returncode != 0 and "unknown option" in proc.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed (.ci/run installs it)")
def test_installed_unit_verifies(tmp_path):
    assert sh(DEPLOY / "install.sh", "--root", tmp_path, "--no-apt", "--no-venv").returncode == 0
    installed = (tmp_path / "etc/systemd/system/pi-emotion.service").read_text()
    assert "Type=notify" in installed and "WatchdogSec=" in installed and "\nPrivateDevices" not in installed
    # the verifier checks that ExecStart exists: point it at this environment's real command
    exe = Path(sys.prefix) / "bin" / "pi-emotion"
    local = tmp_path / "pi-emotion.service"
    local.write_text(installed.replace("/opt/pi-emotion/venv/bin/pi-emotion", str(exe)))
    proc = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "", proc.stderr


def test_shipped_example_config_is_valid_and_documents_every_key():
    values = config.read_file(DEPLOY / "config.toml")
    assert set(values) == set(config.FIELDS)
    text = (DEPLOY / "config.toml").read_text().splitlines()
    for i, line in enumerate(text):
        if line and not line.startswith("#"):
            j = i - 1
            while text[j] and not text[j].startswith("#"):
                j -= 1  # keys grouped under one comment
            assert text[j].startswith("#"), f"undocumented: {line}"
