"""``pi-emotion mqtt-forget``: remove this appliance's device and entities from Home Assistant.

Clears (empty retained messages) every retained discovery config the broker holds for this
device's node, whatever version wrote it, plus the ones this version would write, and the
device's retained state and availability.
"""

from __future__ import annotations

import threading
from pathlib import Path

from pi_emotion.errors import UserError
from pi_emotion.integrations.mqtt.connection import KEEPALIVE, make_client
from pi_emotion.integrations.mqtt.discovery import discovery_messages
from pi_emotion.integrations.mqtt.settings import MqttSettings


def run(ms: MqttSettings, model: Path) -> int:
    """The command: ``ms`` names the broker and the device, ``model`` the labels its entities were made for."""
    from pi_emotion.perception.modelmeta import ModelMeta, meta_path
    from pi_emotion.results.frame import UNCERTAIN

    labels = ModelMeta.load(meta_path(model)).labels + (UNCERTAIN,)
    found = forget(ms, labels)
    print(f"mqtt-forget: device {ms.device_name!r} removed from {ms.broker} "
          f"({len(found)} retained message(s) cleared under {ms.ha_prefix or '-'} and {ms.prefix})")
    return 0


def forget(ms: MqttSettings, labels: tuple[str, ...], timeout: float = 10.0) -> list[str]:
    """Clear the device's retained topics; returns the retained ones found. Raises UserError when the broker says no."""
    client = make_client(ms, "forget", will=False)
    found: set[str] = set()
    answered, synced = threading.Event(), threading.Event()
    refusal: list[str] = []
    marker = ms.topic("forget")  # our own message coming back means every retained one came before it
    patterns = [(f"{ms.prefix}/{ms.device_id}/#", 1)] + ([(f"{ms.ha_prefix}/+/{ms.node_id}/+/config", 1)]
                                                        if ms.ha_prefix else [])

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            refusal.append(str(reason_code))
        else:
            client.subscribe(patterns)
        answered.set()

    def on_subscribe(client, userdata, mid, reason_codes, properties) -> None:
        client.publish(marker, b"", qos=1)

    def on_message(client, userdata, message) -> None:
        if message.topic == marker:
            synced.set()
        elif message.retain and message.payload:
            found.add(message.topic)

    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    try:
        client.connect(ms.host, ms.port, KEEPALIVE)
    except OSError as exc:
        raise UserError(f"MQTT broker {ms.broker} cannot be reached ({exc})") from None
    client.loop_start()
    try:
        if not answered.wait(timeout):
            raise UserError(f"MQTT broker {ms.broker} did not answer within {timeout:.0f} s")
        if refusal:
            raise UserError(f"MQTT broker {ms.broker} refused the login ({refusal[0]}): check mqtt_user and "
                            "the password")
        if not synced.wait(timeout):
            raise UserError(f"MQTT broker {ms.broker} did not deliver this device's topics within {timeout:.0f} s")
        ours = {topic for topic, _ in discovery_messages(ms, labels)} if ms.ha_prefix else set()
        topics = sorted(found | ours | {ms.state, ms.availability})
        for info in [client.publish(topic, b"", qos=1, retain=True) for topic in topics]:
            info.wait_for_publish(timeout)
        return sorted(found)
    finally:
        client.disconnect()
        client.loop_stop()
