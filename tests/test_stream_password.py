"""The browser view's password as a user deploys it: the real command line, with the password from a flag, a
config file or the environment, read by a real HTTP client, GET and HEAD alike."""

import base64
import http.client
import re

import pytest
from broker import ApplianceProcess

PASSWORD = "s3cret"
ROUTES = ("/", "/stream.mjpg", "/snapshot.jpg", "/api/status", "/api/events", "/api/history", "/metrics",
          "/no-such-page")


def request(port: int, method: str, path: str, password: str = "") -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": "Basic " + base64.b64encode(f"viewer:{password}".encode()).decode()} if password else {}
    conn.request(method, path, headers=headers)
    resp = conn.getresponse()
    if method == "GET" and path != "/stream.mjpg":
        resp.read()
    conn.close()
    return resp


@pytest.mark.parametrize("how", ["flag", "config", "environment"])
def test_every_route_but_healthz_asks_for_the_password(tmp_path, how):
    config = tmp_path / "config.toml"
    config.write_text(f'stream_password = "{PASSWORD}"\n' if how == "config" else "")
    flags = ["--stream-password", PASSWORD] if how == "flag" else []
    env = {"PI_EMOTION_STREAM_PASSWORD": PASSWORD} if how == "environment" else {"PI_EMOTION_STREAM_PASSWORD": ""}
    app = ApplianceProcess("--config", config, "--stream", "127.0.0.1:0", *flags, env=env)
    try:
        line = app.log.lines[app.log.wait(lambda ln: "browser view at" in ln)]
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", line)[1])
        for method in ("GET", "HEAD"):
            for path in ROUTES:
                resp = request(port, method, path)
                assert resp.status == 401, (method, path, resp.status)
                assert resp.getheader("WWW-Authenticate", "").startswith("Basic realm="), (method, path)
            assert request(port, method, "/", "guess").status == 401  # a wrong one (a few: logins are limited)
            assert request(port, method, "/healthz").status == 200
            assert request(port, method, "/", PASSWORD).status == 200  # the password given is the one asked for
            assert request(port, method, "/api/status", PASSWORD).status == 200
    finally:
        assert app.stop() == 0
