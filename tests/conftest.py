import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SAMPLE = DATA / "sample.mp4"
MODEL = ROOT / "models" / "emotion.tflite"


# Where every tool is installed (CI sets this), a skip is a test that did not run: it fails instead. Only a skip
# that says what the machine has, not lacks, stays one.
NO_SKIPS = os.environ.get("PI_EMOTION_NO_SKIPS") == "1"
SKIPS_THAT_STAY = ("this OpenCV has a GUI", "does not let even root mount")  # a container without CAP_SYS_ADMIN


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if NO_SKIPS and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if not any(stay in reason for stay in SKIPS_THAT_STAY):
            report.outcome = "failed"
            report.longrepr = f"skipped where it must run (PI_EMOTION_NO_SKIPS=1): {reason}"


def interactive_env() -> dict[str, str]:
    """This environment without systemd's variables, even when the suite itself runs under systemd."""
    return {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}


def run_cli(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """The real command line in a child process, as a user runs it."""
    kwargs.setdefault("env", interactive_env())
    return subprocess.run([sys.executable, "-m", "pi_emotion", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, **kwargs)


def wait_until(condition, timeout: float = 60, poll: float = 0.02) -> bool:
    """Whether ``condition()`` became true within ``timeout`` seconds (a generous limit, never a measurement)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        threading.Event().wait(poll)
    return True


def assert_user_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    """Exit 2, one line on stderr naming the problem, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("pi-emotion: error:")]
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.fixture(scope="session")
def photos() -> dict[str, "cv2.Mat"]:
    return {name: cv2.imread(str(DATA / f"{name}.jpg")) for name in ("obama-480p", "biden", "two_people")}


def frame_lines(path: Path) -> list[str]:
    """An events file's lines about frames (or intervals): each run's own first line, its description, left out."""
    import json

    lines = Path(path).read_text().splitlines()
    return [line for line in lines if json.loads(line).get("type") != "run"]
