"""The command line every peer shares: listen address, outlets, hooks, credentials."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Callable, Protocol

from lab.peers.credentials import read_credentials
from lab.peers.outlets import Outlet


class Peer(Protocol):
    """What the runner needs from a peer: start() returns the bound port."""

    def start(self) -> int: ...

    def stop(self) -> None: ...


def parser(description: str) -> argparse.ArgumentParser:
    """The shared options; a peer adds its own before parsing."""
    parsed = argparse.ArgumentParser(description=description)
    parsed.add_argument("--listen", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parsed.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parsed.add_argument(
        "--outlet", action="append", default=[], metavar="NAME=ON|OFF", help="an outlet and its initial state; repeat for more"
    )
    parsed.add_argument(
        "--on-hook",
        action="append",
        default=[],
        metavar="NAME='argv...'",
        help="command run after NAME switches on ({outlet}, {state} expand)",
    )
    parsed.add_argument(
        "--off-hook", action="append", default=[], metavar="NAME='argv...'", help="command run after NAME switches off"
    )
    parsed.add_argument("--credentials-file", metavar="FILE", help="key=value file: username, password, token, kg, privilege")
    return parsed


def outlets_from_args(args: argparse.Namespace, default_names: Sequence[str]) -> list[Outlet]:
    """Outlets named on the command line, or the device's default outlets, all on."""
    outlets: dict[str, Outlet] = {}
    for spec in args.outlet:
        name, sep, state = spec.rpartition("=")
        if not sep or state.upper() not in ("ON", "OFF"):
            raise SystemExit(f"--outlet {spec!r}: expected NAME=ON or NAME=OFF")
        outlets[name] = Outlet(name, on=state.upper() == "ON")
    if not outlets:
        outlets = {name: Outlet(name) for name in default_names}
    for option, attribute in (("on_hook", "on_hook"), ("off_hook", "off_hook")):
        for spec in getattr(args, option):
            name, sep, command = spec.partition("=")
            if not sep or name not in outlets:
                raise SystemExit(f"--{option.replace('_', '-')} {spec!r}: unknown outlet {name!r}")
            setattr(outlets[name], attribute, shlex.split(command))
    return list(outlets.values())


def credentials_from_args(args: argparse.Namespace) -> dict[str, str]:
    return read_credentials(args.credentials_file) if args.credentials_file else {}


def serve(peer: Peer, describe: Callable[[], str] | None = None) -> None:
    """Start the peer, announce `READY <port>` on stdout, run until SIGTERM or SIGINT."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    port = peer.start()
    try:
        print(f"READY {port}", flush=True)
        if describe is not None:
            print(describe(), file=sys.stderr, flush=True)
        while not stopping.wait(3600):
            pass
    finally:
        peer.stop()
