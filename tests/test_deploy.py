"""Installer, uninstaller and unit file: shellcheck, a run into a staging root, systemd's own verifier."""

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from certs import fingerprint, self_signed
from conftest import ROOT
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pi_emotion import config
from pi_emotion.integrations.stream.hub import FrameHub
from pi_emotion.integrations.stream.server import StreamServer
from pi_emotion.integrations.stream.tls import server_context

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
    assert conf.read_text() == (DEPLOY / "config.toml").read_text().replace(
        'stream_tls_cert = ""', 'stream_tls_cert = "/etc/pi-emotion/tls/cert.pem"').replace(
        'stream_tls_key = ""', 'stream_tls_key = "/etc/pi-emotion/tls/key.pem"')
    assert oct(conf.stat().st_mode & 0o777) == "0o640"
    env = tmp_path / "etc/pi-emotion/environment"
    assert oct(env.stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "opt/pi-emotion/README.md").exists()
    assert "(skipped in --root" in proc.stdout and "systemctl enable --now" in proc.stdout
    assert "skipping Debian packages (--no-apt): python3-picamera2" in proc.stdout
    # a fresh install never streams without a password: a random one, said where, never printed
    password = re.fullmatch(r"PI_EMOTION_STREAM_PASSWORD=([A-Za-z0-9_-]{24})\n", env.read_text())[1]
    assert "sudo cat /etc/pi-emotion/environment" in proc.stdout and password not in proc.stdout + proc.stderr
    # a second run keeps a configuration the user changed
    conf.write_text('source = "/dev/video0"\n')
    assert sh(DEPLOY / "install.sh", "--root", tmp_path, "--no-apt", "--no-venv").returncode == 0
    assert conf.read_text() == ('source = "/dev/video0"\nstream_tls_cert = "/etc/pi-emotion/tls/cert.pem"\n'
                                'stream_tls_key = "/etc/pi-emotion/tls/key.pem"\n')  # what an upgrade needs, added
    assert env.read_text() == f"PI_EMOTION_STREAM_PASSWORD={password}\n"  # the password stays too
    # uninstall keeps the configuration unless asked
    assert sh(DEPLOY / "uninstall.sh", "--root", tmp_path).returncode == 0
    assert not unit.exists() and not (tmp_path / "opt/pi-emotion").exists() and conf.exists()
    assert sh(DEPLOY / "uninstall.sh", "--root", tmp_path, "--purge").returncode == 0
    assert not (tmp_path / "etc/pi-emotion").exists()


def test_a_password_the_user_set_in_the_config_is_kept_and_none_generated(tmp_path):
    conf = tmp_path / "etc/pi-emotion/config.toml"
    conf.parent.mkdir(parents=True)
    conf.write_text('stream = "0.0.0.0:8000"\nstream_password = "mine"\n')
    proc = sh(DEPLOY / "install.sh", "--root", tmp_path, "--no-apt", "--no-venv")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "etc/pi-emotion/environment").read_text() == ""
    assert "keeping the stream password already set" in proc.stdout


def test_dry_run_changes_nothing_and_prints_every_action(tmp_path):
    proc = sh(DEPLOY / "install.sh", "--root", tmp_path, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert list(tmp_path.iterdir()) == []
    for action in ("apt-get install", "python3 -m venv --system-site-packages",
                   f"pip install --quiet --upgrade --constraint {DEPLOY}/constraints.txt",
                   "config.toml", "openssl req -x509", "PI_EMOTION_STREAM_PASSWORD=...", "pi-emotion.service",
                   "systemctl enable"):
        assert action in proc.stdout, action


@pytest.mark.parametrize(("arch", "words"), [("armhf", "32-bit"), ("riscv64", "not supported")])
def test_installer_refuses_an_architecture_without_wheels(tmp_path, arch, words):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "dpkg").write_text(f"#!/bin/sh\n[ \"$1\" = --print-architecture ] && echo {arch}\n")
    (fake / "dpkg").chmod(0o755)
    proc = sh(DEPLOY / "install.sh", "--root", tmp_path / "root", "--dry-run",
              env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"})
    assert proc.returncode != 0 and words in proc.stderr and "64-bit" in proc.stderr
    assert "pip install" not in proc.stdout


def pins(python_version: str) -> dict[str, str]:
    """The constraints file's exact versions that apply to this Python version."""
    found = {}
    for line in (DEPLOY / "constraints.txt").read_text().splitlines():
        requirement, _, marker = line.partition("#")[0].partition(";")
        if requirement.strip() and (not marker or Marker(marker).evaluate({"python_version": python_version})):
            name, _, version = requirement.partition("==")
            assert version and canonicalize_name(name) not in found, line
            found[canonicalize_name(name)] = version.strip()
    return found


def test_constraints_pin_every_dependency_for_bookworm_and_trixie():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {canonicalize_name(Requirement(d).name) for d in project["dependencies"]}
    bookworm, trixie = pins("3.11"), pins("3.13")
    assert needed <= set(bookworm) and needed <= set(trixie)
    assert bookworm["numpy"].startswith("1.") and trixie["numpy"].startswith("2.")  # apt picamera2's NumPy
    for name, version in {**bookworm, **trixie}.items():
        for dep in project["dependencies"]:
            req = Requirement(dep)
            if canonicalize_name(req.name) == name and name != "numpy":
                assert req.specifier.contains(version), (name, version)


def test_the_appliance_package_does_not_carry_the_training_model(tmp_path):
    src = tmp_path / "src"  # a clean copy, so the build leaves nothing in the checkout
    src.mkdir()
    for item in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / item, src / item)
    for item in ("pi_emotion", "models"):
        shutil.copytree(ROOT / item, src / item, ignore=shutil.ignore_patterns("__pycache__"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith("models/emotion.tflite") for n in names)
    assert any(n.endswith("models/emotion-5class.json") for n in names)
    assert any(n.endswith("models/haarcascade_frontalface_alt2.xml") for n in names)
    assert not any(n.endswith(".keras") for n in names)


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


def test_install_makes_a_certificate_once_and_the_view_serves_https_with_it(tmp_path):
    proc = sh(DEPLOY / "install.sh", "--root", tmp_path, "--no-apt", "--no-venv")
    assert proc.returncode == 0, proc.stderr
    tls = tmp_path / "etc/pi-emotion/tls"
    cert, key = tls / "cert.pem", tls / "key.pem"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert "chown pi-emotion:pi-emotion " + str(key) in proc.stdout  # the service user's (skipped in a staging root)
    values = config.read_file(tmp_path / "etc/pi-emotion/config.toml")
    assert (values["stream_tls_cert"], values["stream_tls_key"]) == ("/etc/pi-emotion/tls/cert.pem",
                                                                    "/etc/pi-emotion/tls/key.pem")
    assert fingerprint(cert) in proc.stdout
    names = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-ext", "subjectAltName"], capture_output=True,
                           text=True, check=True).stdout
    assert f"DNS:{os.uname().nodename}.local" in names and "IP Address:127.0.0.1" in names
    made = cert.read_bytes(), key.read_bytes()
    # the certificate serves: a client that trusts exactly it, checking the name, completes a handshake
    hub = FrameHub()
    server = StreamServer(hub, ("127.0.0.1", 0), tls=server_context(str(cert), str(key)))
    server.start()
    try:
        client = ssl.create_default_context(cafile=cert)
        with socket.create_connection(server.address) as raw, \
                client.wrap_socket(raw, server_hostname="localhost") as conn:
            assert conn.version() in ("TLSv1.2", "TLSv1.3")
    finally:
        server.close()
        hub.close()
    # a second run (an upgrade) keeps it, and says its fingerprint again
    proc = sh(DEPLOY / "install.sh", "--root", tmp_path, "--no-apt", "--no-venv")
    assert proc.returncode == 0, proc.stderr
    assert (cert.read_bytes(), key.read_bytes()) == made
    assert "keeping the browser view's certificate" in proc.stdout and fingerprint(cert) in proc.stdout
    assert "openssl req" not in proc.stdout


def test_a_certificate_of_the_users_own_or_plain_http_is_left_alone(tmp_path):
    conf = tmp_path / "etc/pi-emotion/config.toml"
    conf.parent.mkdir(parents=True)
    own, own_key = self_signed(tmp_path, "own")
    mine = f'stream_tls_cert = "/{own.relative_to(tmp_path)}"\nstream_tls_key = "/{own_key.relative_to(tmp_path)}"\n'
    conf.write_text(mine)
    proc = sh(DEPLOY / "install.sh", "--root", tmp_path, "--no-apt", "--no-venv")
    assert proc.returncode == 0, proc.stderr
    assert conf.read_text() == mine and not (tmp_path / "etc/pi-emotion/tls").exists()
    assert fingerprint(own) in proc.stdout
    conf.write_text("stream_allow_http = true\n")
    proc = sh(DEPLOY / "install.sh", "--root", tmp_path, "--no-apt", "--no-venv")
    assert proc.returncode == 0, proc.stderr
    assert conf.read_text() == "stream_allow_http = true\n" and not (tmp_path / "etc/pi-emotion/tls").exists()


def as_unprivileged(*args) -> list[str]:
    """A command run as an ordinary user: as root, through setpriv as nobody."""
    if os.geteuid() != 0:
        return list(map(str, args))
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *map(str, args)]


def test_arm64_check_says_in_one_line_why_it_cannot_run():
    script = DEPLOY / "check-arm64.sh"
    proc = subprocess.run(as_unprivileged("bash", script, "--only", "bookworm", "--x86-python", sys.executable,
                                          "--if-possible"), capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("arm64 check not run: it needs root") and len(proc.stdout.splitlines()) == 1
    # without --if-possible it fails, saying why
    proc = subprocess.run(as_unprivileged("bash", script, "--x86-python", sys.executable), capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 1 and "arm64 check cannot run here: it needs root" in proc.stderr
    proc = sh(script, "--only", "jessie")
    assert proc.returncode == 2 and "error: --only: 'jessie' is not bookworm or trixie" in proc.stderr
