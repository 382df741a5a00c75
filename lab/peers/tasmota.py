"""Tasmota web command peer: `GET /cm?cmnd=Power<n> On|Off|Toggle` as Tasmota firmware answers it.

Protocol (tasmota.github.io/docs/Commands, "with web requests"):
- `GET /cm?cmnd=Power1%20Off`, or `Power` alone for the first relay; no payload queries.
  Payloads: on/1/true, off/0/false, toggle/2, case-insensitive. `Power0` addresses all relays.
- With a web password set, `user=` and `password=` query parameters are required (user is
  `admin` unless the credentials file says otherwise); without them Tasmota answers HTTP 401
  `{"WARNING":"Need user=<username>&password=<password>"}`.
- Replies are JSON; a one-relay device names its relay `POWER`, a multi-relay device
  `POWER1`..`POWERn`. A relay index the device lacks, or any other command, answers
  `{"Command":"Unknown"}`; an empty cmnd answers `{"WARNING":"Enter command cmnd="}`.
Outlets are the relay numbers "1".."n".
"""

from __future__ import annotations

import re

from lab.peers import cli
from lab.peers.httppeer import HttpPeer, PeerRequestHandler
from lab.peers.outlets import Outlet, PowerBoard

_POWER_COMMAND = re.compile(r"^power(\d*)$", re.IGNORECASE)
_ON_WORDS = {"on", "1", "true"}
_OFF_WORDS = {"off", "0", "false"}
_TOGGLE_WORDS = {"toggle", "2"}


class _TasmotaHandler(PeerRequestHandler):
    server_version = "Tasmota"

    def do_GET(self) -> None:
        path, query = self.path_and_query()
        if path != "/cm":
            self.send_text(404, "Not Found")
            return
        peer: TasmotaPeer = self.peer
        if peer.password is not None and (query.get("user") != peer.username or query.get("password") != peer.password):
            self.send_json(401, {"WARNING": "Need user=<username>&password=<password>"})
            return
        command = query.get("cmnd", "").strip()
        if not command:
            self.send_json(200, {"WARNING": "Enter command cmnd="})
            return
        self.send_json(200, peer.run_command(command))


class TasmotaPeer(HttpPeer):
    """A Tasmota device whose outlets are its relays, named "1".."n"."""

    handler = _TasmotaHandler

    def __init__(self, board: PowerBoard, *, username: str = "admin", password: str | None = None, **http: object) -> None:
        super().__init__(board, **http)  # type: ignore[arg-type]
        if sorted(board.names, key=lambda name: int(name) if name.isdigit() else 0) != [
            str(n) for n in range(1, len(board.names) + 1)
        ]:
            raise ValueError("Tasmota relays are numbered: name the outlets 1..n")
        self.username = username
        self.password = password

    def _relay_key(self, index: int) -> str:
        return "POWER" if len(self.board.names) == 1 else f"POWER{index}"

    def run_command(self, command: str) -> dict[str, str]:
        word, _, payload = command.partition(" ")
        match = _POWER_COMMAND.match(word)
        if match is None:
            return {"Command": "Unknown"}
        count = len(self.board.names)
        index = int(match.group(1) or 1)
        if index == 0:
            chosen = [(n, str(n)) for n in range(1, count + 1)]
        elif index <= count:
            chosen = [(index, str(index))]
        else:
            return {"Command": "Unknown"}
        action = payload.strip().lower()
        reply = {}
        for number, name in chosen:
            if action in _ON_WORDS:
                self.board.set(name, True)
            elif action in _OFF_WORDS:
                self.board.set(name, False)
            elif action in _TOGGLE_WORDS:
                self.board.toggle(name)
            reply[self._relay_key(number)] = "ON" if self.board.is_on(name) else "OFF"
        return reply


def main() -> None:
    parser = cli.parser("Tasmota HTTP power peer")
    parser.add_argument("--relays", type=int, default=1, help="relay count when no --outlet is given")
    args = parser.parse_args()
    outlets: list[Outlet] = cli.outlets_from_args(args, [str(n) for n in range(1, args.relays + 1)])
    credentials = cli.credentials_from_args(args)
    peer = TasmotaPeer(
        PowerBoard(outlets),
        listen=args.listen,
        port=args.port,
        username=credentials.get("username", "admin"),
        password=credentials.get("password"),
    )
    cli.serve(peer)


if __name__ == "__main__":
    main()
