"""Tasmota: web commands `GET /cm?cmnd=Power<n> On|Off` (tasmota.github.io/docs/Commands).

Relays are numbered from 1. With a web password set, Tasmota wants `user` and `password` as query
parameters (its only scheme); they go nowhere else, and requests' logging is redacted like all logging.
A one-relay device answers `{"POWER": "ON"}`, a multi-relay one `{"POWER<n>": "ON"}`; a relay the device
lacks answers `{"Command": "Unknown"}`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, quote_plus

from zfsha import secrets
from zfsha.fence import FenceError
from zfsha.plugs.http import HttpClient
from zfsha.plugs.settings import PlugSettings


class TasmotaPlug:
    def __init__(self, settings: PlugSettings) -> None:
        self.settings = settings
        self.http = HttpClient(settings)
        if settings.password:
            # The password travels URL-encoded in the query; that spelling must be redacted too.
            secrets.register(quote_plus(settings.password))
            secrets.register(quote(settings.password, safe=""))

    def power_state(self, plug: str | None) -> bool:
        if plug is None:
            # monitor names no outlet: listing the outlets proves the device answers and takes the credentials.
            self.list_outlets()
            return True
        relay = self._relay(plug)
        return self._state(relay, self._command(f"Power{relay}", f"reading relay {relay}"))

    def set_power(self, plug: str | None, on: bool) -> None:
        relay = self._relay(plug)
        word = "On" if on else "Off"
        self._state(relay, self._command(f"Power{relay} {word}", f"switching relay {relay} {word.lower()}"))

    def list_outlets(self) -> dict[str, str]:
        reply = self._command("Power0", "listing relays")
        relays = sorted(int(key[5:] or 1) for key in reply if key.upper().startswith("POWER"))
        if not relays:
            raise FenceError(f"{self.settings.label}: no relays in the reply to Power0: {reply}")
        return {str(relay): f"relay {relay}" for relay in relays}

    def close(self) -> None:
        self.http.close()

    def _command(self, command: str, what: str) -> dict[str, Any]:
        params = {"cmnd": command}
        if self.settings.password:
            params.update(user=self.settings.username or "admin", password=self.settings.password)
        _, reply = self.http.request("GET", "/cm", params=params, what=what)
        if not isinstance(reply, dict):
            raise FenceError(f"{self.settings.label}: unexpected reply while {what}: {reply!r}")
        if reply.get("Command") == "Unknown":
            raise FenceError(f"{self.settings.label}: the device has no such relay (Command Unknown) while {what}")
        if "WARNING" in reply:
            raise FenceError(f"{self.settings.label}: the device warned while {what}: {reply['WARNING']}")
        return reply

    def _state(self, relay: int, reply: dict[str, Any]) -> bool:
        keys = [f"POWER{relay}"] + (["POWER"] if relay == 1 else [])
        for key in keys:
            if key in reply:
                value = str(reply[key]).upper()
                if value in ("ON", "OFF"):
                    return value == "ON"
                raise FenceError(f"{self.settings.label}: relay {relay} reports {reply[key]!r}, neither ON nor OFF")
        raise FenceError(f"{self.settings.label}: the reply does not mention relay {relay}: {reply}")

    def _relay(self, plug: str | None) -> int:
        if plug is None or not plug.isdigit() or int(plug) < 1:
            raise FenceError(f"{self.settings.label}: plug must be a Tasmota relay number (1, 2, ...), got {plug!r}")
        return int(plug)
