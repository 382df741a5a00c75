"""Shelly Gen1 HTTP peer (shelly-api-docs.shelly.cloud/gen1): `/relay/<n>?turn=on|off|toggle`.

- `GET /shelly`: device info `{"type","mac","auth","fw","longid","num_outputs"}`, never
  behind auth, so a client can see whether it needs credentials.
- `GET /relay/<n>` answers the relay status `{"ison","has_timer","timer_started",
  "timer_duration","timer_remaining","source"}`; `?turn=on|off|toggle` switches first.
  A relay index the device lacks answers 404; a bad `turn` value answers 400.
- `GET /status`: `{"relays": [status...], ...}`.
- With a password in the credentials file (username default `admin`) every endpoint but
  `/shelly` needs HTTP basic auth and answers 401 with `WWW-Authenticate: Basic` without it.
Outlets are the relay indexes "0".."n-1".
"""

from __future__ import annotations

import base64
import binascii
import time

from lab.peers import cli
from lab.peers.httppeer import HttpPeer, PeerRequestHandler
from lab.peers.outlets import PowerBoard

FIRMWARE = "20230913-112003/v1.14.0-gcb84623"


class _ShellyGen1Handler(PeerRequestHandler):
    server_version = "Mongoose/6.18"

    def do_GET(self) -> None:
        peer: ShellyGen1Peer = self.peer
        path, query = self.path_and_query()
        if path == "/shelly":
            self.send_json(200, peer.device_info())
            return
        if not self._authorized(peer):
            self.send_text(401, "401 Unauthorized\r\n", {"WWW-Authenticate": f'Basic realm="{peer.device_id}"'})
            return
        if path == "/status":
            self.send_json(200, peer.status())
            return
        parts = path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "relay" or parts[1] not in peer.board:
            self.send_text(404, "Not Found")
            return
        turn = query.get("turn")
        if turn is not None:
            if turn not in ("on", "off", "toggle"):
                self.send_text(400, "Bad turn!")
                return
            peer.switch(parts[1], turn)
        self.send_json(200, peer.relay_status(parts[1]))

    def _authorized(self, peer: ShellyGen1Peer) -> bool:
        if peer.password is None:
            return True
        scheme, _, encoded = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == peer.username and password == peer.password


class ShellyGen1Peer(HttpPeer):
    """A Shelly Gen1 relay device (default model SHSW-1, one relay per outlet)."""

    handler = _ShellyGen1Handler

    def __init__(
        self,
        board: PowerBoard,
        *,
        username: str = "admin",
        password: str | None = None,
        model: str = "SHSW-1",
        mac: str = "A8032AB1C2D3",
        **http: object,
    ) -> None:
        super().__init__(board, **http)  # type: ignore[arg-type]
        self.username = username
        self.password = password
        self.model = model
        self.mac = mac
        self._sources: dict[str, str] = {}

    @property
    def device_id(self) -> str:
        return f"{self.model}#{self.mac[-6:]}"

    def device_info(self) -> dict[str, object]:
        return {
            "type": self.model,
            "mac": self.mac,
            "auth": self.password is not None,
            "fw": FIRMWARE,
            "longid": 1,
            "num_outputs": len(self.board.names),
        }

    def switch(self, relay: str, turn: str) -> None:
        if turn == "toggle":
            self.board.toggle(relay)
        else:
            self.board.set(relay, turn == "on")
        self._sources[relay] = "http"

    def relay_status(self, relay: str) -> dict[str, object]:
        return {
            "ison": self.board.is_on(relay),
            "has_timer": False,
            "timer_started": 0,
            "timer_duration": 0,
            "timer_remaining": 0,
            "overpower": False,
            "source": self._sources.get(relay, "input"),
        }

    def status(self) -> dict[str, object]:
        return {
            "time": time.strftime("%H:%M"),
            "unixtime": int(time.time()),
            "mac": self.mac,
            "relays": [self.relay_status(name) for name in self.board.names],
        }


def main() -> None:
    parser = cli.parser("Shelly Gen1 HTTP power peer")
    parser.add_argument("--relays", type=int, default=1, help="relay count when no --outlet is given")
    parser.add_argument("--model", default="SHSW-1")
    args = parser.parse_args()
    outlets = cli.outlets_from_args(args, [str(n) for n in range(args.relays)])
    credentials = cli.credentials_from_args(args)
    peer = ShellyGen1Peer(
        PowerBoard(outlets),
        listen=args.listen,
        port=args.port,
        model=args.model,
        username=credentials.get("username", "admin"),
        password=credentials.get("password"),
    )
    cli.serve(peer)


if __name__ == "__main__":
    main()
