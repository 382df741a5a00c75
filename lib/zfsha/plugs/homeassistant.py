"""Home Assistant: switch entities over its REST API with a long-lived access token.

developers.home-assistant.io/docs/api/rest: `GET /api/states/<entity_id>` -> `{"state": "on"|"off"}` (404
for an entity that does not exist), `POST /api/services/<domain>/turn_on|turn_off` with the entity id.
Home Assistant ignores service calls for entities it does not know, so only the state read back counts.
The token is the secret: it comes from password or password_script and travels only in the
Authorization header, over HTTPS with certificate verification unless the admin says otherwise.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from zfsha.fence import FenceError
from zfsha.plugs.http import HttpClient
from zfsha.plugs.settings import PlugSettings

ENTITY_ID = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")
LISTED_DOMAINS = ("switch",)


class HomeAssistantSwitches:
    def __init__(self, settings: PlugSettings) -> None:
        if not settings.password:
            raise FenceError(
                f"{settings.label}: Home Assistant needs a long-lived access token: give it as password or password_script"
            )
        self.settings = settings
        self.http = HttpClient(settings, headers={"Authorization": f"Bearer {settings.password}"})

    def power_state(self, plug: str | None) -> bool:
        if plug is None:
            # monitor names no outlet: listing the outlets proves the device answers and takes the credentials.
            self.list_outlets()
            return True
        entity = self._entity(plug)
        status, reply = self.http.request("GET", f"/api/states/{quote(entity)}", what=f"reading {entity}", accept=(404,))
        if status == 404:
            raise FenceError(f"{self.settings.label}: Home Assistant has no entity {entity}")
        state = reply.get("state") if isinstance(reply, dict) else None
        if state not in ("on", "off"):
            raise FenceError(f"{self.settings.label}: {entity} reports state {state!r}, neither on nor off")
        return state == "on"

    def set_power(self, plug: str | None, on: bool) -> None:
        entity = self._entity(plug)
        domain = entity.partition(".")[0]
        service = "turn_on" if on else "turn_off"
        status, reply = self.http.request(
            "POST",
            f"/api/services/{domain}/{service}",
            body={"entity_id": entity},
            what=f"calling {domain}.{service} for {entity}",
            accept=(400,),
        )
        if status == 400:
            raise FenceError(f"{self.settings.label}: {domain}.{service} refused: {_message(reply)}")

    def list_outlets(self) -> dict[str, str]:
        _, states = self.http.request("GET", "/api/states", what="listing entities")
        if not isinstance(states, list):
            raise FenceError(f"{self.settings.label}: /api/states did not answer a list")
        outlets = {}
        for state in states:
            entity = state.get("entity_id", "") if isinstance(state, dict) else ""
            if entity.partition(".")[0] in LISTED_DOMAINS:
                outlets[entity] = str((state.get("attributes") or {}).get("friendly_name") or entity)
        return outlets

    def close(self) -> None:
        self.http.close()

    def _entity(self, plug: str | None) -> str:
        if plug is None or not ENTITY_ID.match(plug):
            raise FenceError(f"{self.settings.label}: plug must be a Home Assistant entity id such as switch.node1, got {plug!r}")
        return plug


def _message(reply: Any) -> str:
    if isinstance(reply, dict) and "message" in reply:
        return str(reply["message"])
    return str(reply)[:120]
