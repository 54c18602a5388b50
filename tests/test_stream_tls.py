"""The browser view over real TLS on loopback, its start-up checks, the failed-login limit and the headers."""

import base64
import http.client
import logging
import socket
import ssl

import pytest
from certs import make_all
from conftest import SAMPLE, assert_user_error, interactive_env, run_cli
from streaming import appliance

from pi_emotion.integrations.stream.logins import LoginLimiter
from pi_emotion.integrations.stream.server import check_access
from pi_emotion.integrations.stream.tls import server_context

GOOD = {"Authorization": "Basic " + base64.b64encode(b"viewer:s3cret").decode()}
BAD = {"Authorization": "Basic " + base64.b64encode(b"viewer:guess").decode()}


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_all(tmp_path_factory.mktemp("certs"))


def https(port, cert, path="/", headers=None, source="127.0.0.1", **context):
    """GET over HTTPS, the server's certificate checked against ``cert`` (and its name, 127.0.0.1)."""
    ctx = ssl.create_default_context(cafile=cert)
    for key, value in context.items():
        setattr(ctx, key, value)
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10, source_address=(source, 0))
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    resp.body = resp.read() if path != "/stream.mjpg" else b""
    resp.tls_version = conn.sock.version()
    conn.close()
    return resp


def test_https_with_a_password_and_plain_http_refused(certs):
    tls = server_context(str(certs["cert"]), str(certs["key"]))
    assert tls.minimum_version == ssl.TLSVersion.TLSv1_2
    with appliance(password="s3cret", tls=tls) as app:
        assert app.server.url.startswith("https://127.0.0.1:")
        resp = https(app.port, certs["cert"])
        assert resp.status == 401 and resp.tls_version in ("TLSv1.2", "TLSv1.3")
        resp = https(app.port, certs["cert"], headers=GOOD)
        assert resp.status == 200 and b"pi-emotion" in resp.body
        resp = https(app.port, certs["cert"], "/snapshot.jpg", GOOD)
        assert resp.status == 200 and resp.getheader("Content-Type") == "image/jpeg" and resp.body[:2] == b"\xff\xd8"
        assert https(app.port, certs["cert"], "/api/status", GOOD, maximum_version=ssl.TLSVersion.TLSv1_2)\
            .tls_version == "TLSv1.2"
        # plain HTTP to the TLS port gets no answer
        plain = http.client.HTTPConnection("127.0.0.1", app.port, timeout=10)
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            plain.request("GET", "/api/status", headers=GOOD)
            plain.getresponse()
        plain.close()
        # a client that connects and never shakes hands holds up no one else
        with socket.create_connection(("127.0.0.1", app.port)):
            assert https(app.port, certs["cert"], "/api/status", GOOD).status == 200
        assert https(app.port, certs["cert"], "/healthz").status == 200


@pytest.mark.parametrize(("cert", "key", "words"), [
    ("missing", "key", ("--stream-tls-cert", "not found")),
    ("folder", "key", ("--stream-tls-cert", "cannot be read")),
    ("expired", "key", ("expired",)),
    ("future", "key", ("not yet valid",)),
    ("cert", "other_key", ("does not belong to the certificate",)),
    ("key", "key", ("no PEM certificate",)),
    ("cert", "cert", ("no PEM private key",)),
    ("cert", "encrypted_key", ("encrypted",)),
    ("cert", None, ("go together",)),
])
def test_bad_certificates_and_keys_stop_the_run_with_one_line(certs, cert, key, words):
    paths = {**certs, "missing": certs["cert"].parent / "missing.pem", "folder": certs["cert"].parent}
    args = ["--stream-tls-cert", paths[cert]] + (["--stream-tls-key", paths[key]] if key else [])
    assert_user_error(run_cli("--source", SAMPLE, "--stream", "8000", *args), *words)


def test_certificate_keys_in_the_config_file_are_checked_too(certs, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'stream = "8000"\nstream_tls_cert = "{certs["expired"]}"\nstream_tls_key = "{certs["key"]}"\n')
    assert_user_error(run_cli("--config", config, "--source", SAMPLE), "expired")


def test_a_network_stream_needs_tls_or_plain_http_asked_for(certs, tmp_path):
    env = {**interactive_env(), "PI_EMOTION_STREAM_PASSWORD": "s3cret"}
    assert_user_error(run_cli("--source", SAMPLE, "--stream", "0.0.0.0:8000", env=env), "plain HTTP",
                      "--stream-tls-cert", "stream_allow_http")
    # with a certificate the run gets past the check (to the missing source)
    assert_user_error(run_cli("--source", tmp_path / "missing.mp4", "--stream", "0.0.0.0:8000", "--stream-tls-cert",
                              certs["cert"], "--stream-tls-key", certs["key"], env=env), "not found")
    # plain HTTP when asked for, with a warning at start
    assert check_access(("0.0.0.0", 8000), "s3cret", False, tls=True) == []
    (warning,) = check_access(("0.0.0.0", 8000), "s3cret", False, tls=False, allow_http=True)
    assert "plain HTTP" in warning and "password" in warning
    assert check_access(("127.0.0.1", 8000), "", False) == []


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failed_logins_block_the_guessing_address_only_until_the_window_passes(certs, caplog):
    clock = Clock()
    limiter = LoginLimiter(limit=5, window=60.0, clock=clock)
    tls = server_context(str(certs["cert"]), str(certs["key"]))
    with appliance(password="s3cret", tls=tls, logins=limiter) as app, \
            caplog.at_level(logging.WARNING, "pi_emotion.integrations.stream.logins"):
        def get(headers=None, source="127.0.0.1", path="/api/status"):
            return https(app.port, certs["cert"], path, headers, source)

        for _ in range(8):  # no credentials at all (a browser's first request) is not a failed login
            assert get(source="127.0.0.3").status == 401
        for _ in range(5):
            assert get(BAD).status == 401
        for headers in (BAD, GOOD, BAD):  # blocked: not even the right password gets through from there
            resp = get(headers)
            assert resp.status == 429 and resp.getheader("Retry-After") == "60"
        assert get(path="/healthz").status == 200
        assert get(GOOD, "127.0.0.2").status == 200  # another address is unaffected
        assert get(BAD, "127.0.0.2").status == 401
        assert get(source="127.0.0.3").status == 401
        clock.now += 30
        assert get(GOOD).getheader("Retry-After") == "30"
        clock.now += 30
        assert get(GOOD).status == 200
        assert get(BAD).status == 401  # counting starts again
    blocked = [r.getMessage() for r in caplog.records if "failed logins" in r.getMessage()]
    assert len(blocked) == 1 and "127.0.0.1" in blocked[0]


def test_security_headers_on_every_response_errors_included():
    with appliance(password="s3cret", logins=LoginLimiter(limit=1)) as app:
        def raw(request: bytes) -> bytes:
            with socket.create_connection(("127.0.0.1", app.port), timeout=10) as sock:
                sock.sendall(request)
                return sock.makefile("rb").read()

        answers = [raw(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}\r\n".encode())
                   for path, auth in (("/", GOOD), ("/snapshot.jpg", GOOD), ("/nowhere", GOOD), ("/", {}),
                                      ("/", BAD), ("/", BAD), ("/healthz", {}))
                   for auth in ["".join(f"{k}: {v}\r\n" for k, v in auth.items())]]
        answers.append(raw(b"NONSENSE\r\n\r\n"))
    statuses = [a.split(b" ", 2)[1] for a in answers]
    assert statuses == [b"200", b"200", b"404", b"401", b"401", b"429", b"200", b"400"]
    for answer in answers:
        head = answer.split(b"\r\n\r\n", 1)[0].decode().lower()
        assert "x-content-type-options: nosniff" in head
        assert "referrer-policy: no-referrer" in head
        assert "frame-ancestors 'none'" in head
        assert "cache-control: no-cache, no-store" in head
