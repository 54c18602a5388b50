"""Test certificates made by the openssl command: good, expired, not yet valid, mismatched, encrypted."""

from __future__ import annotations

import subprocess
from pathlib import Path

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
# `openssl req -x509` cannot date a certificate in the past; `openssl ca -selfsign` can
CA_CONFIG = """[ca]
default_ca = here
[here]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
[any]
commonName = supplied
"""


def openssl(*args: str, cwd: Path) -> str:
    return subprocess.run(["openssl", *args], check=True, capture_output=True, text=True, cwd=cwd,
                          timeout=60).stdout


def self_signed(folder: Path, name: str, san: str = "DNS:localhost,IP:127.0.0.1") -> tuple[Path, Path]:
    """A certificate for ``san``, valid for a month from now, and its key."""
    openssl("req", "-x509", *EC, "-days", "30", "-subj", "/CN=localhost", "-addext", f"subjectAltName={san}",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=folder)
    return folder / f"{name}.pem", folder / f"{name}.key"


def dated(folder: Path, name: str, key: Path, start: str, end: str) -> Path:
    """A certificate for ``key`` valid only from ``start`` to ``end`` (YYYYMMDDhhmmssZ)."""
    (folder / "ca.cnf").write_text(CA_CONFIG)
    (folder / "index.txt").write_text("")
    (folder / "serial").write_text("01\n")
    openssl("req", "-new", "-key", str(key), "-subj", "/CN=localhost", "-out", f"{name}.csr", cwd=folder)
    openssl("ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", str(key), "-in", f"{name}.csr",
            "-startdate", start, "-enddate", end, "-out", f"{name}.pem", cwd=folder)
    return folder / f"{name}.pem"


def make_all(folder: Path) -> dict[str, Path]:
    cert, key = self_signed(folder, "good")
    _, other_key = self_signed(folder, "other")
    openssl("pkey", "-in", str(key), "-aes256", "-passout", "pass:secret", "-out", "encrypted.key", cwd=folder)
    return {"cert": cert, "key": key, "other_key": other_key, "encrypted_key": folder / "encrypted.key",
            "expired": dated(folder, "expired", key, "20200101000000Z", "20200102000000Z"),
            "future": dated(folder, "future", key, "20990101000000Z", "20990102000000Z")}


def fingerprint(cert: Path) -> str:
    """The certificate's SHA-256 fingerprint as browsers show it (AB:CD:...)."""
    out = openssl("x509", "-in", str(cert), "-noout", "-fingerprint", "-sha256", cwd=cert.parent)
    return out.split("=", 1)[1].strip()
