"""Where the broker is, how to log in, and the topics one appliance owns.

Every topic carries the device's name, so many appliances share one broker without
knowing of each other: ``<prefix>/<device>/availability|state|events`` and Home
Assistant configs under ``<ha_prefix>/<component>/pi-emotion-<device>/<object>/config``.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from pi_emotion.errors import UserError

PASSWORD_ENV = "PI_EMOTION_MQTT_PASSWORD"


def slug(name: str) -> str:
    """A topic- and id-safe form of a device name: lower case, [a-z0-9-] only."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def parse_broker(text: str, tls: bool) -> tuple[str, int]:
    """``HOST[:PORT]`` (IPv6 as ``[::1]:1883``); the port defaults to 1883, or 8883 with TLS."""
    host, port = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    if not host or (port and (not port.isdigit() or not 0 < int(port) < 65536)):
        raise UserError(f"--mqtt {text!r}: expected HOST[:PORT], e.g. homeassistant.local or 192.168.1.5:1883")
    return host, int(port) if port else (8883 if tls else 1883)


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int
    device_name: str
    user: str = ""
    password: str = ""
    tls: bool = False
    ca: Path | None = None
    prefix: str = "pi-emotion"
    ha_prefix: str = "homeassistant"  # empty: no Home Assistant discovery

    @classmethod
    def parse(cls, broker: str, device_name: str = "", user: str = "", password: str = "", tls: bool = False,
              ca: str = "", prefix: str = "pi-emotion", ha_prefix: str = "homeassistant") -> MqttSettings:
        """From the configured values (flags and keys named in messages); each checked, defaults filled in.

        The device name defaults to the host name and the password may come from the environment.
        """
        tls = tls or bool(ca)
        host, port = parse_broker(broker, tls)
        name = device_name or socket.gethostname()
        if not slug(name):
            raise UserError(f"--device-name {name!r}: needs at least one letter or digit")
        ca_path = Path(ca) if ca else None
        if ca_path is not None and not ca_path.is_file():
            raise UserError(f"--mqtt-ca {ca_path}: file not found")
        for flag, value in (("--mqtt-prefix", prefix), ("--ha-prefix", ha_prefix)):
            if any(c in value for c in "#+") or value.startswith("/") or value.endswith("/"):
                raise UserError(f"{flag} {value!r}: a topic prefix has no '#', '+' or leading/trailing '/'")
        if not prefix:
            raise UserError("--mqtt-prefix must not be empty")
        return cls(host, port, name, user, password or os.environ.get(PASSWORD_ENV, ""), tls, ca_path, prefix,
                   ha_prefix)

    @property
    def device_id(self) -> str:
        return slug(self.device_name)

    @property
    def node_id(self) -> str:
        """The Home Assistant discovery node: one per appliance."""
        return f"pi-emotion-{self.device_id}"

    @property
    def broker(self) -> str:
        return f"{self.host}:{self.port}"

    def topic(self, leaf: str) -> str:
        return f"{self.prefix}/{self.device_id}/{leaf}"

    @property
    def availability(self) -> str:
        return self.topic("availability")

    @property
    def state(self) -> str:
        return self.topic("state")

    @property
    def events(self) -> str:
        return self.topic("events")
