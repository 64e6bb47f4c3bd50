"""Family ``homeassistant``: a binary_sensor's state as HA's statestream publishes it,
``on``/``off`` (on = active); ``unavailable``/``unknown`` are ``no_state``."""

from __future__ import annotations

from . import esphome

decode = esphome.decode  # the same ON/OFF words
