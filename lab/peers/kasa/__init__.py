"""TP-Link Kasa peer: the npm simulator `tplink-smarthome-simulator` run by launch.js.

The device speaks Kasa's legacy local protocol on TCP (and UDP) at the chosen port:
each message is a 4-byte big-endian length followed by the JSON text XOR-"autokey"
encrypted with initial key 171, e.g. `{"system":{"get_sysinfo":{}}}` and
`{"system":{"set_relay_state":{"state":0}}}`; a power strip (HS300) takes
`{"context":{"child_ids":["<deviceId>00"]},"system":{"set_relay_state":{"state":0}}}`.
The simulator holds the state; launch.js reports each change and this wrapper runs hooks.
Needs node and `npm install` in this directory (see lab/peers/README.md).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from lab.peers.child import ChildProcessPeer
from lab.peers.outlets import PowerBoard

PACKAGE_DIR = Path(__file__).resolve().parent
MODELS = ("hs100", "hs110", "hs300")


def simulator_installed() -> bool:
    """True when node is on PATH and the npm package is installed next to launch.js."""
    return shutil.which("node") is not None and (PACKAGE_DIR / "node_modules" / "tplink-smarthome-simulator").is_dir()


def install_simulator() -> None:
    """Install the pinned simulator into lab/peers/kasa/node_modules (git-ignored)."""
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=PACKAGE_DIR, check=True)


class KasaSimulator(ChildProcessPeer):
    """One simulated Kasa plug (HS100/HS110: one outlet) or strip (HS300: up to six outlets).

    Outlet names become device aliases (plug) or child aliases (strip, children
    `<device_id>00`, `<device_id>01`, ... in board order).
    """

    def __init__(
        self,
        board: PowerBoard,
        *,
        model: str = "hs100",
        listen: str = "127.0.0.1",
        port: int = 0,
        device_id: str = "8006ABCDEF0123456789ABCDEF0123456789ABCD",
    ) -> None:
        if model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}")
        if model != "hs300" and len(board.names) != 1:
            raise ValueError(f"{model} is a plug with one outlet")
        super().__init__(board, port)
        self.model = model
        self.listen = listen
        self.device_id = device_id

    def child_id(self, outlet: str) -> str:
        """The strip child id a client addresses in `context.child_ids`."""
        return f"{self.device_id}{self.board.names.index(outlet):02d}"

    def start(self, timeout: float = 20.0) -> int:
        argv = [
            "node",
            str(PACKAGE_DIR / "launch.js"),
            "--listen",
            self.listen,
            "--port",
            str(self.port),
            "--model",
            self.model,
            "--device-id",
            self.device_id,
        ]
        for name, on in self.board.snapshot().items():
            argv += ["--outlet", f"{name}={'ON' if on else 'OFF'}"]
        return self._start_child(argv, timeout)
