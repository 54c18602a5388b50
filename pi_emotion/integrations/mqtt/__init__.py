"""MQTT: the broker connection, the topics and Home Assistant discovery. paho-mqtt is imported lazily."""
