"""The README's picture of the browser view: the appliance on the looping sample, a minute of chart, then a shot.

    python docs/screenshot.py [--seconds 60] [-o docs/page.png]

Needs Chromium and chromedriver (Debian: chromium, chromium-driver) and selenium (the test extra).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def history(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url + "api/history", timeout=2) as response:
            return json.load(response)
    except OSError:
        return None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60, help="seconds of chart history before the shot")
    p.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "page.png")
    a = p.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    app = subprocess.Popen([sys.executable, "-m", "pi_emotion", "--source", str(ROOT / "tests/data/sample.mp4"),
                            "--loop", "--realtime", "--stream", f"127.0.0.1:{port}", "--device-name", "hall",
                            "--log-level", "warning"], cwd=ROOT)
    try:
        deadline = time.monotonic() + a.seconds + 60
        while (h := history(url)) is None or len(h["intervals"]) * h["interval_s"] < a.seconds:
            if app.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the appliance did not run long enough for the picture")
            time.sleep(1)
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser") or ""
        with tempfile.TemporaryDirectory() as profile:
            for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                         f"--user-data-dir={profile}", "--window-size=1280,760"):
                options.add_argument(flag)
            driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
            try:  # the viewport itself, whatever the headless window's frame takes
                driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                       {"width": 1280, "height": 720, "deviceScaleFactor": 1, "mobile": False})
                driver.get(url)
                wait = WebDriverWait(driver, 30)
                wait.until(lambda d: d.execute_script("return document.getElementById('stream').naturalWidth > 0"
                                                      " && kept !== null && document.getElementById('faces')"
                                                      ".textContent.includes('%')"))
                # taken when the list names what the picture shows (not in a cut between two clips)
                wait.until(lambda d: d.execute_script(
                    "const r = new XMLHttpRequest(); r.open('GET', 'api/events?n=1', false); r.send();"
                    "const faces = JSON.parse(r.responseText)[0].faces;"
                    "return faces.length === 1 && document.getElementById('faces').textContent"
                    ".includes('#' + faces[0].track + ' ' + faces[0].emotion)"))
                driver.save_screenshot(str(a.output))
            finally:
                driver.quit()
    finally:
        app.terminate()
        app.wait(10)
    print(f"wrote {a.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
