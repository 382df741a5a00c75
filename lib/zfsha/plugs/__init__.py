"""Smart-plug drivers: one small module per plug family, all behind the fencing framework's PowerDevice.

Each family speaks its vendor's documented local protocol (tasmota, shelly, kasa, homeassistant, cli).
`connect(settings)` picks the driver; the framework never knows which one it drives. Every driver turns
each fault (unreachable, refused credentials, unknown outlet, an error or a reply it cannot read) into
a FenceError whose one-line reason names the device and what went wrong.
"""

from __future__ import annotations

from zfsha.fence import PowerDevice
from zfsha.plugs.settings import FAMILIES, PlugSettings

__all__ = ["FAMILIES", "PlugSettings", "connect"]


def connect(settings: PlugSettings) -> PowerDevice:
    """The driver for settings.family; only that family's module (and its libraries) is imported."""
    if settings.family == "tasmota":
        from zfsha.plugs.tasmota import TasmotaPlug

        return TasmotaPlug(settings)
    if settings.family == "shelly1":
        from zfsha.plugs.shelly import ShellyGen1Plug

        return ShellyGen1Plug(settings)
    if settings.family == "shelly2":
        from zfsha.plugs.shelly import ShellyGen2Plug

        return ShellyGen2Plug(settings)
    if settings.family == "kasa":
        from zfsha.plugs.kasa import KasaPlug

        return KasaPlug(settings)
    if settings.family == "homeassistant":
        from zfsha.plugs.homeassistant import HomeAssistantSwitches

        return HomeAssistantSwitches(settings)
    if settings.family == "cli":
        from zfsha.plugs.cli import CommandLinePlug

        return CommandLinePlug(settings)
    raise ValueError(f"unknown plug family {settings.family!r}")
