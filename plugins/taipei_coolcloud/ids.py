"""The plugin's id, in one place: feature modules ask the runtime whether it is enabled by this name."""

from __future__ import annotations

PLUGIN_ID = "taipei_coolcloud"  # the same as TaipeiCoolCloud.id in plugin.py
