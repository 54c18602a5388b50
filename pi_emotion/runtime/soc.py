"""Raspberry Pi SoC temperature and throttling flags, where ``/sys`` or ``vcgencmd`` tell them.

The kernel's thermal zone and the firmware's ``get_throttled`` file come first (no process
to start, and they work under the service's sandbox); ``vcgencmd`` is the fallback. Where
neither exists (a desktop), the readings are None and no metric is shown.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)
# get_throttled bits: 0-3 the condition now, 16-19 the same condition seen since boot
FLAGS = ((0, "under_voltage"), (1, "arm_frequency_capped"), (2, "throttled"), (3, "soft_temperature_limit"))
SINCE_BOOT = 16
THROTTLED_FILES = ("devices/platform/soc/soc:firmware/get_throttled", "devices/platform/*/*:firmware/get_throttled")
VCGENCMD_EVERY = 10.0  # seconds a vcgencmd answer is reused; scrapes must not each start a process


class SocSensors:
    def __init__(self, sys_root: Path = Path("/sys"), vcgencmd: str = "vcgencmd", clock=time.monotonic) -> None:
        self.sys_root = sys_root
        self.vcgencmd = shutil.which(vcgencmd)
        self._clock = clock
        self._cached: dict[str, tuple[float, str | None]] = {}

    def temperature_c(self) -> float | None:
        text = _read(self.sys_root / "class/thermal/thermal_zone0/temp")
        if text is not None and text.lstrip("-").isdigit():
            return int(text) / 1000
        answer = self._vcgencmd("measure_temp")  # temp=48.3'C
        match = re.search(r"temp=([-\d.]+)", answer or "")
        return float(match.group(1)) if match else None

    def throttled(self) -> int | None:
        """The firmware's throttling bits (see FLAGS), or None where nothing tells them."""
        for pattern in THROTTLED_FILES:
            for path in sorted(self.sys_root.glob(pattern)):
                text = _read(path)
                if text is not None:
                    try:
                        return int(text, 16)
                    except ValueError:
                        log.debug("%s: unexpected content %r", path, text)
        answer = self._vcgencmd("get_throttled")  # throttled=0x50005
        match = re.search(r"throttled=(0x[0-9a-fA-F]+)", answer or "")
        return int(match.group(1), 16) if match else None

    def _vcgencmd(self, command: str) -> str | None:
        if self.vcgencmd is None:
            return None
        now = self._clock()
        at, answer = self._cached.get(command, (-1e9, None))
        if now - at < VCGENCMD_EVERY:
            return answer
        try:
            proc = subprocess.run([self.vcgencmd, command], capture_output=True, text=True, timeout=2)
            answer = proc.stdout if proc.returncode == 0 else None
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.debug("vcgencmd %s failed: %s", command, exc)
            answer = None
        self._cached[command] = (now, answer)
        return answer


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
