"""IPMI 2.0 (RMCP+) BMC peer built on pyghmi's BMC server, with one chassis power outlet.

Speaks IPMI over LAN (lanplus) on UDP; clients: `ipmitool -I lanplus -H 127.0.0.1 -p PORT
-U USER -E chassis power status|on|off|cycle|reset` (password in IPMI_PASSWORD), pyghmi's
`Command(bmc=, userid=, password=, port=)`, and fence_ipmilan (`--ipport`).

What this adds to pyghmi's `Bmc`:
- It offers cipher suite 3 only (RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128) and now says so:
  an open-session request for other algorithms gets RMCP+ status 0x11 (no cipher suite
  match) instead of a SHA-1 answer to a SHA-256 request, so pyghmi's client falls back to
  SHA-1 instead of failing with a struct.error.
- An unknown user gets RAKP2 status 0x0D (unauthorized name), a role above the user's
  privilege RAKP2 status 0x09 (invalid role), both at once instead of silence; a wrong
  password fails the client's RAKP2 HMAC check, as on real BMCs. An optional Kg (BMC key)
  is honoured.
- Chassis control needs operator privilege (completion code 0xD4 otherwise); power cycle
  and reset while off answer 0xD5 (not supported in present state); soft-off acts as off.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

from pyghmi.ipmi import bmc as pyghmi_bmc
from pyghmi.ipmi.private import serversession
from pyghmi.ipmi.private import session as ipmisession

from lab.peers import cli
from lab.peers.child import ChildProcessPeer
from lab.peers.credentials import write_credentials
from lab.peers.outlets import Outlet, PowerBoard

REPO_ROOT = Path(__file__).resolve().parents[2]

PRIVILEGES = {"callback": 1, "user": 2, "operator": 3, "administrator": 4}
_SUITE3 = {12: 1, 20: 1, 28: 1}  # open-session request offsets: auth, integrity, confidentiality
_NO_CIPHER_SUITE_MATCH = 0x11
_INVALID_ROLE = 0x09
_UNAUTHORIZED_NAME = 0x0D
_INSUFFICIENT_PRIVILEGE = 0xD4
_NOT_IN_PRESENT_STATE = 0xD5


class _CheckedSession(serversession.ServerSession):
    """pyghmi's server session, refusing what it cannot do instead of answering wrongly."""

    def create_open_session_response(self, request: bytearray) -> bytearray:
        for offset, algorithm in _SUITE3.items():
            # A zero-length algorithm payload means "any": suite 3 satisfies it.
            if request[offset - 1] != 0 and request[offset] != algorithm:
                return bytearray([request[0], _NO_CIPHER_SUITE_MATCH, 0, 0]) + request[4:8]
        return super().create_open_session_response(request)

    def _got_rakp1(self, data: list[int]) -> None:
        username = bytes(data[28:]).decode("utf-8", "replace")
        requested = data[24] & 0x0F
        if data[27] == 0 or username not in self.authdata:
            self._refuse_rakp1(data, _UNAUTHORIZED_NAME)
            return
        if requested > self.bmc.privileges.get(username, 4):
            self._refuse_rakp1(data, _INVALID_ROLE)
            return
        self.clientpriv = requested
        super()._got_rakp1(data)

    def _refuse_rakp1(self, data: list[int], status: int) -> None:
        message = bytearray([data[0], status, 0, 0]) + self.clientsessionid
        self.send_payload(message, ipmisession.constants.payload_types["rakp2"], retry=False)

    def handle_client_request(self, request: dict) -> None:
        if request["netfn"] == 6 and request["command"] == 0x3B and request["data"][0] <= 1:
            # pyghmi's server leaves clientpriv unset for "keep the present level".
            self._send_ipmi_net_payload(code=0, data=[self.clientpriv])
            return
        if request["netfn"] == 0 and request["command"] == 2 and self.clientpriv < PRIVILEGES["operator"]:
            self.send_ipmi_response(code=_INSUFFICIENT_PRIVILEGE)
            return
        super().handle_client_request(request)


class _LabBmc(pyghmi_bmc.Bmc):
    def __init__(
        self, board: PowerBoard, *, username: str, password: str, listen: str, port: int, kg: str | None, privilege: str
    ) -> None:
        self.board = board
        self.outlet = board.names[0]
        self.privileges = {username: PRIVILEGES[privilege]}
        super().__init__({username: password}, port=port, address=listen)
        # Port 0 binds a free port; pyghmi files sessions under the port it was given.
        self.port = self.serversocket.getsockname()[1]
        if kg is not None:
            self.set_kg(kg)

    def sessionless_data(self, data: bytes, sockaddr: tuple) -> None:
        if len(data) >= 22 and data[0] == 6 and data[4] == 6 and data[5] == 16:
            _CheckedSession(self.authdata, self.kg, sockaddr, self.serversocket, bytearray(data[16:]), self.uuid, bmc=self)
            return
        super().sessionless_data(data, sockaddr)

    def get_power_state(self) -> str:
        return "on" if self.board.is_on(self.outlet) else "off"

    def power_on(self) -> None:
        self.board.set(self.outlet, True)

    def power_off(self) -> None:
        self.board.set(self.outlet, False)

    def power_shutdown(self) -> None:
        self.board.set(self.outlet, False)

    def power_cycle(self) -> int:
        if not self.board.is_on(self.outlet):
            return _NOT_IN_PRESENT_STATE
        self.board.cycle(self.outlet)
        return 0

    def power_reset(self) -> int:
        return self.power_cycle()

    def is_active(self) -> bool:
        return self.board.is_on(self.outlet)


class IpmiBmcPeer(ChildProcessPeer):
    """One BMC whose chassis power is the board's single outlet.

    The BMC runs in a process of its own (`python3 -m lab.peers.ipmi --report-state`):
    pyghmi keeps its sockets and sessions in process-wide state that cannot be torn down
    and rebuilt in one process. The child reports each power change on stdout; this side
    mirrors it into the board, whose hooks run here.
    """

    def __init__(
        self,
        board: PowerBoard,
        *,
        username: str,
        password: str,
        listen: str = "127.0.0.1",
        port: int = 0,
        kg: str | None = None,
        privilege: str = "administrator",
    ) -> None:
        if len(board.names) != 1:
            raise ValueError("a BMC controls exactly one chassis")
        if privilege not in PRIVILEGES:
            raise ValueError(f"privilege must be one of {', '.join(PRIVILEGES)}")
        super().__init__(board, port)
        self.outlet = board.names[0]
        self.credentials = {"username": username, "password": password, "privilege": privilege}
        if kg is not None:
            self.credentials["kg"] = kg
        self.listen = listen
        self._workdir: Path | None = None

    def start(self, timeout: float = 20.0) -> int:
        self._workdir = Path(tempfile.mkdtemp(prefix="zfsha-bmc-"))
        credentials = write_credentials(self._workdir / "credentials", self.credentials)
        on = "ON" if self.board.is_on(self.outlet) else "OFF"
        argv = [
            sys.executable,
            "-m",
            "lab.peers.ipmi",
            "--report-state",
            "--listen",
            self.listen,
            "--port",
            str(self.port),
            "--outlet",
            f"{self.outlet}={on}",
            "--credentials-file",
            str(credentials),
        ]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
        return self._start_child(argv, timeout, env)

    def stop(self) -> None:
        super().stop()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


def _report_state(name: str, on: bool) -> None:
    print(f"STATE {name} {'ON' if on else 'OFF'}", flush=True)


def main() -> None:
    parser = cli.parser("IPMI 2.0 lanplus BMC peer (pyghmi)")
    parser.add_argument(
        "--report-state", action="store_true", help="print STATE lines and exit when stdin closes (used by IpmiBmcPeer)"
    )
    args = parser.parse_args()
    outlets: list[Outlet] = cli.outlets_from_args(args, ["chassis"])
    if len(outlets) != 1:
        raise SystemExit("a BMC controls exactly one chassis: give one --outlet")
    credentials = cli.credentials_from_args(args)
    if "username" not in credentials or "password" not in credentials:
        raise SystemExit("the BMC needs --credentials-file with username= and password=")
    privilege = credentials.get("privilege", "administrator")
    if privilege not in PRIVILEGES:
        raise SystemExit(f"privilege must be one of {', '.join(PRIVILEGES)}")
    board = PowerBoard(outlets, on_change=_report_state if args.report_state else None)
    bmc = _LabBmc(
        board,
        username=credentials["username"],
        password=credentials["password"],
        listen=args.listen,
        port=args.port,
        kg=credentials.get("kg"),
        privilege=privilege,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    if args.report_state:
        # The parent holds our stdin: if it dies without stopping us, we stop too.
        threading.Thread(target=lambda: (sys.stdin.read(), stopping.set()), daemon=True).start()
    print(f"READY {bmc.port}", flush=True)
    while not stopping.is_set():
        ipmisession.Session.wait_for_rsp(timeout=0.2)
    board.close()


if __name__ == "__main__":
    main()
