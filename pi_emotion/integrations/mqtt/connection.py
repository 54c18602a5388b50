"""One paho-mqtt client in its own network thread: Last Will, reconnects with backoff, announcements.

The appliance never waits for the broker. ``connect_async`` + ``loop_start`` leave
connecting, reconnecting (1 s doubling to 60 s) and all socket I/O to paho's thread;
messages published while the broker is away are dropped, because the state is retained
and re-published on every (re)connect. An outage is logged once; a refused login is
logged once and ends MQTT for this run, the appliance going on without it.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable

from pi_emotion.errors import UserError
from pi_emotion.integrations.mqtt.settings import MqttSettings

log = logging.getLogger(__name__)
KEEPALIVE = 30  # seconds; the broker publishes the Last Will ~1.5 keepalives after a power cut
MIN_DELAY, MAX_DELAY = 1, 60  # reconnect backoff, seconds
MAX_QUEUED = 100  # QoS 1 messages paho keeps while a connection is being set up
LOGIN_REFUSED = ("Bad user name or password", "Not authorized")


def make_client(ms: MqttSettings, role: str, will: bool):
    """A configured paho client (not yet connected); paho-mqtt 2 is imported here, not at start-up."""
    try:
        from paho.mqtt.client import CallbackAPIVersion, Client
    except ImportError:
        raise UserError("--mqtt needs paho-mqtt 2 or newer: pip install 'pi-emotion[mqtt]'") from None
    client = Client(CallbackAPIVersion.VERSION2, client_id=f"pi-emotion-{ms.device_id}-{role}-{secrets.token_hex(3)}")
    if ms.user:
        client.username_pw_set(ms.user, ms.password or None)
    if ms.tls:
        try:
            client.tls_set(ca_certs=str(ms.ca) if ms.ca else None)
        except (OSError, ValueError) as exc:
            raise UserError(f"--mqtt-ca {ms.ca}: not a usable CA certificate ({exc})") from None
    if will:
        client.will_set(ms.availability, "offline", qos=1, retain=True)
    client.reconnect_delay_set(MIN_DELAY, MAX_DELAY)
    client.max_queued_messages_set(MAX_QUEUED)
    return client


class MqttConnection:
    """The appliance's session: ``online``/``offline`` availability, and ``announce`` after every (re)connect.

    ``announce`` (discovery configs, the last state) also runs when Home Assistant says
    ``online`` on ``<ha_prefix>/status``, since it forgets unretained state when it restarts.
    """

    def __init__(self, ms: MqttSettings, announce: Callable[[], None]) -> None:
        self.ms = ms
        self._announce = announce
        self.connected = threading.Event()
        self.refused = threading.Event()  # the broker refused the login: no more attempts
        self._closing = False
        self._outage = False  # an outage was logged and has not ended yet
        self._client = make_client(ms, "run", will=True)
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._ha_status = f"{ms.ha_prefix}/status" if ms.ha_prefix else None

    def start(self) -> None:
        self._client.connect_async(self.ms.host, self.ms.port, KEEPALIVE)
        self._client.loop_start()

    def publish(self, topic: str, payload: str | bytes, retain: bool = False, qos: int = 0) -> None:
        """Hand a message to paho's thread; while disconnected it is dropped (the state is retained anyway)."""
        if self.connected.is_set():
            self._client.publish(topic, payload, qos=qos, retain=retain)

    def close(self, timeout: float = 2.0) -> None:
        """``offline`` (retained) on the way out, then disconnect; waits at most ``timeout`` for the broker."""
        self._closing = True
        if self.connected.is_set():
            info = self._client.publish(self.ms.availability, "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError):  # the connection went while we waited
                pass
        self._client.disconnect()
        self._client.loop_stop()

    # paho's network thread ------------------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            if str(reason_code) in LOGIN_REFUSED:
                log.error("MQTT broker %s refused the login (%s): check mqtt_user and the password; "
                          "running on without MQTT", self.ms.broker, reason_code)
                self.refused.set()
                client.disconnect()  # ends paho's loop: no retries with credentials that cannot work
            elif not self._outage:
                self._outage = True
                log.warning("MQTT broker %s refused the connection (%s); retrying in the background",
                            self.ms.broker, reason_code)
            return
        log.info("MQTT %s to %s as device %r", "reconnected" if self._outage else "connected", self.ms.broker,
                 self.ms.device_name)
        self._outage = False
        topics = [(self.ms.availability, 1)] + ([(self._ha_status, 1)] if self._ha_status else [])
        client.subscribe(topics)
        client.publish(self.ms.availability, "online", qos=1, retain=True)
        self.connected.set()
        self._announce()

    def _on_connect_fail(self, client, userdata) -> None:
        if self._outage:
            log.debug("MQTT broker %s still unreachable; retrying", self.ms.broker)
            return
        self._outage = True
        log.warning("MQTT broker %s cannot be reached%s; retrying in the background, the appliance runs on",
                    self.ms.broker, " or its TLS certificate is not trusted (see --mqtt-ca)" if self.ms.tls else "")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if self._closing or self.refused.is_set() or self._outage:
            return
        self._outage = True
        log.warning("MQTT connection to %s lost (%s); reconnecting in the background", self.ms.broker, reason_code)

    def _on_message(self, client, userdata, message) -> None:
        if message.topic == self._ha_status and message.payload == b"online":
            log.info("Home Assistant came online: announcing the device again")
            self._announce()
        elif message.topic == self.ms.availability and message.payload == b"offline" and not self._closing:
            # The Last Will of an earlier run (a power cut) can arrive after this run said online.
            client.publish(self.ms.availability, "online", qos=1, retain=True)
