"""homeguard: a home intrusion-alarm system on MQTT."""

__version__ = "0.1.0"
