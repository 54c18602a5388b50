"""Home Assistant MQTT discovery: one device per appliance, its entities read from the retained state topic.

Each entity's config is a retained message on
``<ha_prefix>/<component>/<node_id>/<object_id>/config``; an empty retained message on the
same topic removes the entity. All entities share the device block and the appliance's
availability topic, so Home Assistant shows them unavailable when the appliance is off.
"""

from __future__ import annotations

import json
import re

from pi_emotion import __version__
from pi_emotion.integrations.mqtt.settings import MqttSettings

# {{ ... }} templates render "None" for a missing value, which Home Assistant shows as unknown.
SOMEONE = ("{% if value_json.someone_in_view is none %}None{% elif value_json.someone_in_view %}ON"
           "{% else %}OFF{% endif %}")
NOBODY = "nobody"  # the dominant emotion while no face is in view
DOMINANT = ("{% if value_json.someone_in_view is none %}None{% elif not value_json.someone_in_view %}" + NOBODY +
            "{% else %}{{ value_json.dominant_emotion }}{% endif %}")
# Attributes that change only with the software or the model: the recorder stores a row per change.
ATTRIBUTES = ("{{ {'model': value_json.model, 'detector': value_json.detector, 'version': value_json.version}"
              " | tojson }}")
EVENT = ('{"event_type":"{{ value_json.type }}","track":{{ value_json.track }},'
         '"emotion":"{{ value_json.emotion }}","score":{{ value_json.score }}}')
EVENT_TYPES = ["appear", "emotion", "leave"]
EXPIRE_AFTER = 30  # seconds without a state (a hung frame loop whose connection stays up): unavailable


def _object_id(label: str) -> str:
    return "share_" + re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def entities(labels: tuple[str, ...]) -> list[tuple[str, str, dict]]:
    """(component, object_id, entity-specific config) for every entity of one appliance."""
    out: list[tuple[str, str, dict]] = [
        ("sensor", "faces_in_view", {"name": "Faces in view", "icon": "mdi:account-multiple",
                                     "state_class": "measurement", "value_template": "{{ value_json.faces_in_view }}"}),
        ("sensor", "dominant_emotion", {"name": "Dominant emotion", "icon": "mdi:emoticon-outline",
                                        "device_class": "enum", "options": [*labels, NOBODY],
                                        "value_template": DOMINANT, "json_attributes_template": ATTRIBUTES}),
    ]
    for label in labels:
        out.append(("sensor", _object_id(label), {
            "name": f"{label.capitalize()} share", "icon": "mdi:chart-donut", "unit_of_measurement": "%",
            "state_class": "measurement", "suggested_display_precision": 0,
            "value_template": "{{ (value_json.shares or {}).get(" + json.dumps(label) + ") }}"}))
    out += [
        ("sensor", "fps", {"name": "Frame rate", "icon": "mdi:speedometer", "unit_of_measurement": "fps",
                           "state_class": "measurement", "suggested_display_precision": 1,
                           "entity_category": "diagnostic", "value_template": "{{ value_json.fps }}"}),
        ("binary_sensor", "someone_in_view", {"name": "Someone in view", "device_class": "occupancy",
                                              "value_template": SOMEONE}),
        ("event", "face", {"name": "Face", "icon": "mdi:face-recognition", "event_types": EVENT_TYPES,
                           "value_template": EVENT}),
    ]
    return out


def config_topic(ms: MqttSettings, component: str, object_id: str) -> str:
    return f"{ms.ha_prefix}/{component}/{ms.node_id}/{object_id}/config"


def discovery_messages(ms: MqttSettings, labels: tuple[str, ...], page_url: str = "") -> list[tuple[str, str]]:
    """(topic, JSON payload) of every entity config, to publish retained.

    ``page_url``: the browser view, where it is served on a network address (the device's link in
    Home Assistant).
    """
    device = {"identifiers": [f"pi_emotion_{ms.device_id.replace('-', '_')}"], "name": ms.device_name,
              "manufacturer": "pi-emotion", "model": "Emotion recognition appliance", "sw_version": __version__}
    if page_url:
        device["configuration_url"] = page_url
    messages = []
    for component, object_id, specific in entities(labels):
        config = {"unique_id": f"pi_emotion_{ms.device_id.replace('-', '_')}_{object_id}", **specific,
                  "state_topic": ms.events if component == "event" else ms.state,
                  "availability_topic": ms.availability, "payload_available": "online",
                  "payload_not_available": "offline", "device": device,
                  "origin": {"name": "pi-emotion", "sw_version": __version__}}
        if component != "event":
            config["expire_after"] = EXPIRE_AFTER
        if "json_attributes_template" in config:
            config["json_attributes_topic"] = ms.state
        messages.append((config_topic(ms, component, object_id), json.dumps(config, separators=(",", ":"))))
    return messages
