"""Home Assistant REST API peer (developers.home-assistant.io/docs/api/rest).

- Every `/api/` call needs `Authorization: Bearer <long-lived token>`; without it, or with a
  wrong token, HTTP 401 with the text body `401: Unauthorized`.
- `GET /api/` -> `{"message": "API running."}`; `GET /api/states` -> all state objects;
  `GET /api/states/<entity_id>` -> `{"entity_id", "state": "on"|"off", "attributes",
  "last_changed", "last_reported", "last_updated", "context"}` or 404
  `{"message": "Entity not found."}`.
- `POST /api/services/<domain>/<service>` with `{"entity_id": "switch.x"}` (or a list):
  services turn_on, turn_off, toggle in the entity's own domain or `homeassistant`.
  Answers 200 with the list of states that changed. An entity id that does not exist is
  ignored (200, `[]`), as Home Assistant does: a client must read the state back. An unknown
  service answers 400 `{"message": "Service <domain>.<service> not found."}`.
- Plain HTTP, or HTTPS when given a certificate (see lab.peers.tlscert).
Outlets are entity ids, e.g. "switch.node1".
"""

from __future__ import annotations

import hmac
import json
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lab.peers import cli
from lab.peers.httppeer import HttpPeer, PeerRequestHandler
from lab.peers.outlets import PowerBoard
from lab.peers.tlscert import make_self_signed

_SERVICES = {"turn_on", "turn_off", "toggle"}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class _HomeAssistantHandler(PeerRequestHandler):
    server_version = "Python/3.12 aiohttp/3.10.5"

    def _authorized(self) -> bool:
        peer: HomeAssistantPeer = self.peer
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        return scheme == "Bearer" and hmac.compare_digest(token.encode(), peer.token.encode())

    def _unauthorized(self) -> None:
        self.send_text(401, "401: Unauthorized")

    def do_GET(self) -> None:
        peer: HomeAssistantPeer = self.peer
        path, _ = self.path_and_query()
        if not self._authorized():
            self._unauthorized()
            return
        if path == "/api/":
            self.send_json(200, {"message": "API running."})
        elif path == "/api/states":
            self.send_json(200, [peer.state_object(name) for name in peer.board.names])
        elif path.startswith("/api/states/"):
            entity = path[len("/api/states/") :]
            if entity in peer.board:
                self.send_json(200, peer.state_object(entity))
            else:
                self.send_json(404, {"message": "Entity not found."})
        else:
            self.send_text(404, "404: Not Found")

    def do_POST(self) -> None:
        peer: HomeAssistantPeer = self.peer
        path, _ = self.path_and_query()
        if not self._authorized():
            self._unauthorized()
            return
        parts = path.split("/")
        if len(parts) != 5 or parts[:3] != ["", "api", "services"]:
            self.send_text(404 if not path.startswith("/api/states/") else 405, "404: Not Found")
            return
        domain, service = parts[3], parts[4]
        try:
            data = json.loads(self.read_body() or b"{}")
            if not isinstance(data, dict):
                raise ValueError
        except ValueError:
            self.send_json(400, {"message": "Data should be valid JSON."})
            return
        if service not in _SERVICES or domain not in peer.domains | {"homeassistant"}:
            self.send_json(400, {"message": f"Service {domain}.{service} not found."})
            return
        entities = data.get("entity_id", [])
        entities = [entities] if isinstance(entities, str) else list(entities)
        changed = []
        for entity in entities:
            if entity not in peer.board or (domain != "homeassistant" and not entity.startswith(domain + ".")):
                continue
            if peer.call_service(entity, service):
                changed.append(peer.state_object(entity))
        self.send_json(200, changed)


class HomeAssistantPeer(HttpPeer):
    """Home Assistant holding one entity per outlet (entity ids such as switch.node1)."""

    handler = _HomeAssistantHandler

    def __init__(self, board: PowerBoard, *, token: str, **http: object) -> None:
        super().__init__(board, **http)  # type: ignore[arg-type]
        if not token:
            raise ValueError("Home Assistant needs a long-lived access token")
        self.token = token
        self._changed = {name: _now() for name in board.names}

    @property
    def domains(self) -> set[str]:
        return {name.partition(".")[0] for name in self.board.names}

    def call_service(self, entity: str, service: str) -> bool:
        """Run the service on the entity; True when its state changed."""
        was_on = self.board.is_on(entity)
        if service == "toggle":
            self.board.toggle(entity)
        else:
            self.board.set(entity, service == "turn_on")
        changed = self.board.is_on(entity) != was_on
        if changed:
            self._changed[entity] = _now()
        return changed

    def state_object(self, entity: str) -> dict[str, Any]:
        changed = self._changed[entity]
        friendly = entity.partition(".")[2].replace("_", " ").title()
        return {
            "entity_id": entity,
            "state": "on" if self.board.is_on(entity) else "off",
            "attributes": {"friendly_name": friendly},
            "last_changed": changed,
            "last_reported": changed,
            "last_updated": changed,
            "context": {"id": uuid.uuid4().hex.upper()[:26], "parent_id": None, "user_id": None},
        }


def main() -> None:
    parser = cli.parser("Home Assistant REST API power peer")
    parser.add_argument(
        "--tls-dir", help="serve HTTPS with a self-signed cert made in this directory (its cert.pem is the CA file for clients)"
    )
    args = parser.parse_args()
    outlets = cli.outlets_from_args(args, ["switch.node1"])
    token = cli.credentials_from_args(args).get("token", "")
    tls: dict[str, Path] = {}
    if args.tls_dir:
        files = make_self_signed(Path(args.tls_dir), args.listen)
        tls = {"tls_cert": files.cert, "tls_key": files.key}
    peer = HomeAssistantPeer(PowerBoard(outlets), listen=args.listen, port=args.port, token=token, **tls)
    cli.serve(peer)


if __name__ == "__main__":
    main()
