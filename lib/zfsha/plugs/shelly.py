"""Shelly relays: Gen1 over `/relay/<n>` with optional basic auth, Gen2+ over JSON-RPC with SHA-256 digest.

Gen1 (shelly-api-docs.shelly.cloud/gen1): `GET /relay/<n>` answers `{"ison": true, ...}`, `?turn=on|off`
switches first, a relay the device lacks answers 404. Gen2+ (Plus/Pro, .../gen2): `POST /rpc` frames
`Switch.GetStatus {id}` -> `{"output": bool}` and `Switch.Set {id, on}`; errors come back in the frame
(-105: no such switch). Gen2 authentication is RFC 7616 digest with SHA-256 for the one user, admin,
which requests' HTTPDigestAuth answers. Relays and switches are numbered from 0.
"""

from __future__ import annotations

from typing import Any

from zfsha.fence import FenceError
from zfsha.plugs.http import HttpClient
from zfsha.plugs.settings import PlugSettings

NO_SUCH_ID = -105


def _relay_id(settings: PlugSettings, plug: str | None, noun: str) -> int:
    if plug is None or not plug.isdigit():
        raise FenceError(f"{settings.label}: plug must be a Shelly {noun} number (0, 1, ...), got {plug!r}")
    return int(plug)


class ShellyGen1Plug:
    def __init__(self, settings: PlugSettings) -> None:
        from requests.auth import HTTPBasicAuth

        self.settings = settings
        auth = HTTPBasicAuth(settings.username or "admin", settings.password) if settings.password else None
        self.http = HttpClient(settings, auth=auth)

    def power_state(self, plug: str | None) -> bool:
        if plug is None:
            # monitor names no outlet: listing the outlets proves the device answers and takes the credentials.
            self.list_outlets()
            return True
        relay = _relay_id(self.settings, plug, "relay")
        return self._ison(relay, self._relay(relay, None, f"reading relay {relay}"))

    def set_power(self, plug: str | None, on: bool) -> None:
        relay = _relay_id(self.settings, plug, "relay")
        turn = "on" if on else "off"
        self._ison(relay, self._relay(relay, turn, f"switching relay {relay} {turn}"))

    def list_outlets(self) -> dict[str, str]:
        _, status = self.http.request("GET", "/status", what="listing relays")
        relays = status.get("relays") if isinstance(status, dict) else None
        if not isinstance(relays, list):
            raise FenceError(f"{self.settings.label}: /status has no relays list")
        return {str(index): f"relay {index}" for index in range(len(relays))}

    def close(self) -> None:
        self.http.close()

    def _relay(self, relay: int, turn: str | None, what: str) -> Any:
        params = {"turn": turn} if turn else None
        status, reply = self.http.request("GET", f"/relay/{relay}", params=params, what=what, accept=(404,))
        if status == 404:
            raise FenceError(f"{self.settings.label}: the device has no relay {relay} (HTTP 404)")
        return reply

    def _ison(self, relay: int, reply: Any) -> bool:
        ison = reply.get("ison") if isinstance(reply, dict) else None
        if not isinstance(ison, bool):
            raise FenceError(f"{self.settings.label}: relay {relay} status has no true/false ison: {reply!r}")
        return ison


class ShellyGen2Plug:
    def __init__(self, settings: PlugSettings) -> None:
        from requests.auth import HTTPDigestAuth

        if settings.username not in (None, "admin"):
            raise FenceError(f"{settings.label}: Shelly Gen2 devices have one user, admin; got username {settings.username!r}")
        self.settings = settings
        auth = HTTPDigestAuth("admin", settings.password) if settings.password else None
        self.http = HttpClient(settings, auth=auth)
        self._frame_id = 0

    def power_state(self, plug: str | None) -> bool:
        if plug is None:
            # monitor names no outlet: listing the outlets proves the device answers and takes the credentials.
            self.list_outlets()
            return True
        switch = _relay_id(self.settings, plug, "switch")
        return self._output(switch, self._call("Switch.GetStatus", {"id": switch}, f"reading switch {switch}"))

    def set_power(self, plug: str | None, on: bool) -> None:
        switch = _relay_id(self.settings, plug, "switch")
        result = self._call("Switch.Set", {"id": switch, "on": on}, f"switching switch {switch} {'on' if on else 'off'}")
        if not isinstance(result, dict) or "was_on" not in result:
            raise FenceError(f"{self.settings.label}: unexpected reply to Switch.Set: {result!r}")

    def list_outlets(self) -> dict[str, str]:
        status = self._call("Shelly.GetStatus", {}, "listing switches")
        if not isinstance(status, dict):
            raise FenceError(f"{self.settings.label}: unexpected reply to Shelly.GetStatus: {status!r}")
        switches = sorted(int(key[7:]) for key in status if key.startswith("switch:") and key[7:].isdigit())
        return {str(switch): f"switch:{switch}" for switch in switches}

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, params: dict[str, Any], what: str) -> Any:
        self._frame_id += 1
        frame = {"id": self._frame_id, "src": "fence_smartplug", "method": method, "params": params}
        _, reply = self.http.request("POST", "/rpc", body=frame, what=what)
        if not isinstance(reply, dict):
            raise FenceError(f"{self.settings.label}: the reply to {method} is not a JSON-RPC frame: {reply!r}")
        error = reply.get("error")
        if isinstance(error, dict):
            code, message = error.get("code"), error.get("message", "")
            if code == NO_SUCH_ID:
                raise FenceError(f"{self.settings.label}: the device has no switch {params.get('id')} ({message})")
            raise FenceError(f"{self.settings.label}: {method} failed with error {code}: {message}")
        if "result" not in reply:
            raise FenceError(f"{self.settings.label}: the reply to {method} has neither result nor error: {reply!r}")
        return reply["result"]

    def _output(self, switch: int, result: Any) -> bool:
        output = result.get("output") if isinstance(result, dict) else None
        if not isinstance(output, bool):
            raise FenceError(f"{self.settings.label}: switch {switch} status has no true/false output: {result!r}")
        return output
