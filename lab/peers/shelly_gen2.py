"""Shelly Gen2+ JSON-RPC peer (shelly-api-docs.shelly.cloud/gen2): `POST /rpc`, `GET /rpc/<Method>`.

- `POST /rpc` takes a frame `{"id", "src", "method", "params", "auth"?}` and answers
  `{"id", "src": <device id>, "dst": <request src>, "result"|"error"}` with HTTP 200.
- `GET /rpc/<Method>?id=0&on=false` answers the bare result; errors answer HTTP 500 with
  `{"code", "message"}`. Query values are JSON (`on=false`, `id=0`).
- Methods: Shelly.GetDeviceInfo (`auth_en`, `auth_domain`...), Shelly.GetStatus,
  Switch.Set {id, on} -> {"was_on"}, Switch.Toggle {id} -> {"was_on"}, Switch.GetStatus {id}.
  Unknown switch id: -105 "Argument 'id', value N not found!"; missing argument: -103;
  unknown method: 404 "No handler for M".
- Authentication (General/Authentication): with a password set, everything except `/shelly`
  and Shelly.GetDeviceInfo needs RFC 7616 digest auth with SHA-256, user `admin`, realm =
  device id. Unauthenticated requests get HTTP 401 with
  `WWW-Authenticate: Digest qop="auth", realm="<id>", nonce="<hex>", algorithm=SHA-256`
  (for POST /rpc also a frame whose error 401 message carries the same challenge as JSON).
  A client either answers with an `Authorization: Digest ...` header (HA2 = method:uri) or
  puts an `auth` object `{"realm", "username", "nonce", "cnonce", "response", "algorithm"}`
  in the frame, whose response uses HA2 = SHA256("dummy_method:dummy_uri") and nc 1.
  Nonces are valid for an hour and may be reused with an increasing nc.
Outlets are the switch ids "0".."n-1".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from typing import Any

from lab.peers import cli
from lab.peers.httppeer import HttpPeer, PeerRequestHandler
from lab.peers.outlets import PowerBoard

NONCE_LIFETIME = 3600.0
_DIGEST_FIELD = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _ShellyGen2Handler(PeerRequestHandler):
    server_version = "Mongoose/6.18"

    def do_GET(self) -> None:
        peer: ShellyGen2Peer = self.peer
        path, query = self.path_and_query()
        if path == "/shelly":
            self.send_json(200, peer.device_info())
            return
        if not path.startswith("/rpc/"):
            self.send_text(404, "Not Found")
            return
        method = path[len("/rpc/") :]
        if peer.needs_auth(method) and not peer.check_digest_header(self.command, self.headers):
            self._challenge(None)
            return
        params = {key: _query_value(value) for key, value in query.items()}
        try:
            self.send_json(200, peer.call(method, params))
        except RpcError as error:
            self.send_json(500, {"code": error.code, "message": error.message})

    def do_POST(self) -> None:
        peer: ShellyGen2Peer = self.peer
        path, _ = self.path_and_query()
        if path != "/rpc":
            self.send_text(404, "Not Found")
            return
        try:
            frame = json.loads(self.read_body() or b"{}")
            if not isinstance(frame, dict) or not isinstance(frame.get("method"), str):
                raise ValueError("not a JSON-RPC request frame")
        except ValueError:
            self.send_json(400, {"id": None, "src": peer.device_id, "error": {"code": -32700, "message": "Parse error"}})
            return
        method = frame["method"]
        if peer.needs_auth(method) and not (
            peer.check_auth_object(frame.get("auth")) or peer.check_digest_header(self.command, self.headers)
        ):
            self._challenge(frame)
            return
        reply: dict[str, Any] = {"id": frame.get("id"), "src": peer.device_id}
        if "src" in frame:
            reply["dst"] = frame["src"]
        params = frame.get("params") or {}
        try:
            reply["result"] = peer.call(method, params if isinstance(params, dict) else {})
        except RpcError as error:
            reply["error"] = {"code": error.code, "message": error.message}
        self.send_json(200, reply)

    def _challenge(self, frame: dict[str, Any] | None) -> None:
        peer: ShellyGen2Peer = self.peer
        nonce = peer.new_nonce()
        header = {"WWW-Authenticate": f'Digest qop="auth", realm="{peer.device_id}", nonce="{nonce:x}", algorithm=SHA-256'}
        if frame is None:
            self.send_text(401, "401 Unauthorized", header)
            return
        challenge = {"auth_type": "digest", "nonce": nonce, "realm": peer.device_id, "algorithm": "SHA-256"}
        reply = {"id": frame.get("id"), "src": peer.device_id, "error": {"code": 401, "message": json.dumps(challenge)}}
        if "src" in frame:
            reply["dst"] = frame["src"]
        self.send_json(401, reply, header)


def _query_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


class ShellyGen2Peer(HttpPeer):
    """A Shelly Plus/Pro device (default Plus 1PM, gen 2) with one switch per outlet."""

    handler = _ShellyGen2Handler

    def __init__(
        self,
        board: PowerBoard,
        *,
        password: str | None = None,
        app: str = "Plus1PM",
        model: str = "SNSW-001P16EU",
        mac: str = "A8032AB1C2D4",
        **http: object,
    ) -> None:
        super().__init__(board, **http)  # type: ignore[arg-type]
        self.password = password
        self.app = app
        self.model = model
        self.mac = mac
        self._nonces: dict[int, float] = {}
        self._nonce_lock = threading.Lock()
        self._sources: dict[str, str] = {}

    @property
    def device_id(self) -> str:
        return f"shelly{self.app.lower()}-{self.mac.lower()}"

    def device_info(self) -> dict[str, Any]:
        return {
            "name": None,
            "id": self.device_id,
            "mac": self.mac,
            "slot": 0,
            "model": self.model,
            "gen": 2,
            "fw_id": "20241011-114455/1.4.4-g6d2a586",
            "ver": "1.4.4",
            "app": self.app,
            "auth_en": self.password is not None,
            "auth_domain": self.device_id,
        }

    # -- authentication -------------------------------------------------------------------
    def needs_auth(self, method: str) -> bool:
        return self.password is not None and method != "Shelly.GetDeviceInfo"

    def new_nonce(self) -> int:
        with self._nonce_lock:
            now = time.monotonic()
            self._nonces = {n: t for n, t in self._nonces.items() if now - t < NONCE_LIFETIME}
            # Time-based like the device's, kept unique when two challenges share a second.
            nonce = max(int(time.time()), max(self._nonces, default=0) + 1)
            self._nonces[nonce] = now
            return nonce

    def _nonce_valid(self, nonce: int) -> bool:
        with self._nonce_lock:
            issued = self._nonces.get(nonce)
            return issued is not None and time.monotonic() - issued < NONCE_LIFETIME

    def _ha1(self) -> str:
        return _sha256(f"admin:{self.device_id}:{self.password}")

    def check_digest_header(self, http_method: str, headers: Any) -> bool:
        scheme, _, rest = (headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "digest":
            return False
        fields = {key.lower(): quoted or bare for key, quoted, bare in _DIGEST_FIELD.findall(rest)}
        try:
            nonce = int(fields.get("nonce", ""), 16)
        except ValueError:
            return False
        if (
            fields.get("username") != "admin"
            or fields.get("realm") != self.device_id
            or fields.get("algorithm", "").upper() != "SHA-256"
            or fields.get("qop") != "auth"
            or not self._nonce_valid(nonce)
        ):
            return False
        ha2 = _sha256(f"{http_method}:{fields.get('uri', '')}")
        expected = _sha256(f"{self._ha1()}:{fields['nonce']}:{fields.get('nc', '')}:{fields.get('cnonce', '')}:auth:{ha2}")
        return hmac.compare_digest(expected, fields.get("response", ""))

    def check_auth_object(self, auth: Any) -> bool:
        if not isinstance(auth, dict):
            return False
        nonce = auth.get("nonce")
        if (
            auth.get("username") != "admin"
            or auth.get("realm") != self.device_id
            or auth.get("algorithm", "SHA-256") != "SHA-256"
            or not isinstance(nonce, int)
            or not self._nonce_valid(nonce)
        ):
            return False
        ha2 = _sha256("dummy_method:dummy_uri")
        expected = _sha256(f"{self._ha1()}:{nonce}:{auth.get('nc', 1)}:{auth.get('cnonce')}:auth:{ha2}")
        return hmac.compare_digest(expected, str(auth.get("response", "")))

    # -- methods --------------------------------------------------------------------------
    def call(self, method: str, params: dict[str, Any]) -> Any:
        if method == "Shelly.GetDeviceInfo":
            return self.device_info()
        if method == "Shelly.GetStatus":
            return {f"switch:{name}": self.switch_status(name) for name in self.board.names}
        if method == "Switch.GetStatus":
            return self.switch_status(self._switch_id(params))
        if method == "Switch.Set":
            switch = self._switch_id(params)
            if "on" not in params:
                raise RpcError(-103, "Missing required argument 'on'!")
            if not isinstance(params["on"], bool):
                raise RpcError(-103, "Invalid argument 'on'!")
            self._sources[switch] = "HTTP_in"
            return {"was_on": self.board.set(switch, params["on"])}
        if method == "Switch.Toggle":
            switch = self._switch_id(params)
            self._sources[switch] = "HTTP_in"
            return {"was_on": not self.board.toggle(switch)}
        raise RpcError(404, f"No handler for {method}")

    def _switch_id(self, params: dict[str, Any]) -> str:
        if "id" not in params:
            raise RpcError(-103, "Missing required argument 'id'!")
        switch = str(params["id"])
        if switch not in self.board:
            raise RpcError(-105, f"Argument 'id', value {params['id']} not found!")
        return switch

    def switch_status(self, switch: str) -> dict[str, Any]:
        on = self.board.is_on(switch)
        return {
            "id": int(switch) if switch.isdigit() else switch,
            "source": self._sources.get(switch, "init"),
            "output": on,
            "apower": 42.0 if on else 0.0,
            "voltage": 230.1,
            "current": 0.183 if on else 0.0,
            "aenergy": {"total": 0.0, "by_minute": [0.0, 0.0, 0.0], "minute_ts": int(time.time())},
            "temperature": {"tC": 41.2, "tF": 106.2},
        }


def main() -> None:
    parser = cli.parser("Shelly Gen2+ JSON-RPC power peer")
    parser.add_argument("--switches", type=int, default=1, help="switch count when no --outlet is given")
    args = parser.parse_args()
    outlets = cli.outlets_from_args(args, [str(n) for n in range(args.switches)])
    credentials = cli.credentials_from_args(args)
    peer = ShellyGen2Peer(PowerBoard(outlets), listen=args.listen, port=args.port, password=credentials.get("password"))
    cli.serve(peer)


if __name__ == "__main__":
    main()
