"""The simulated FreeBSD host: one JSON document under $ZFSHA_SIM_STATE/freebsd/, locked while a tool runs.

Tests build it with `Host.create(...)`; the tools in bin/ load it, act, and save it. What the document
holds is what the kernel would hold: loaded modules, network interfaces and which vnet owns them, mounts,
datasets and which jail they are attached to, jails and their processes, and the addresses that answer
ARP on the wire.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

STATE_VARIABLE = "ZFSHA_SIM_STATE"
# Set by the simulated jexec(8) so a tool knows it runs inside that jail.
INSIDE_VARIABLE = "ZFSHA_SIM_FREEBSD_JAIL"


def state_dir(base: str | os.PathLike[str] | None = None) -> Path:
    root = base if base is not None else os.environ.get(STATE_VARIABLE)
    if not root:
        raise SystemExit(f"fbsd simulator: {STATE_VARIABLE} is not set")
    return Path(root) / "freebsd"


def empty() -> dict[str, Any]:
    return {
        "kld": ["kernel", "zfs"],
        "interfaces": {},
        "mounts": [],
        "datasets": {},
        "jails": {},
        "next_jid": 1,
        "next_pid": 1000,
        "neighbours": [],
        # Fault knobs a test sets to reproduce what a real host can do.
        "faults": {},
    }


@contextlib.contextmanager
def locked(base: str | os.PathLike[str] | None = None) -> Iterator[dict[str, Any]]:
    """The host state, held under an exclusive lock and written back when the block ends normally."""
    directory = state_dir(base)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = directory / "host.json"
        state = json.loads(path.read_text()) if path.exists() else empty()
        yield state
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
        tmp.replace(path)


def read(base: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    path = state_dir(base) / "host.json"
    return json.loads(path.read_text()) if path.exists() else empty()


class Host:
    """Builder used by tests to describe the host before the agent runs."""

    def __init__(self, base: str | os.PathLike[str]) -> None:
        self.base = Path(base)

    def update(self, **changes: Any) -> None:
        with locked(self.base) as state:
            state.update(changes)

    def load_module(self, name: str) -> None:
        with locked(self.base) as state:
            if name not in state["kld"]:
                state["kld"].append(name)

    def add_interface(self, name: str) -> None:
        with locked(self.base) as state:
            state["interfaces"][name] = {"vnet": None, "addresses": []}

    def add_mount(self, source: str, path: str, fstype: str = "zfs") -> None:
        with locked(self.base) as state:
            state["mounts"].append({"source": source, "path": path, "type": fstype, "jail": None})

    def add_dataset(self, name: str, mountpoint: str, jailed: bool = True) -> None:
        with locked(self.base) as state:
            state["datasets"][name] = {"mountpoint": mountpoint, "jailed": "on" if jailed else "off", "jail": None}

    def add_neighbour(self, address: str) -> None:
        with locked(self.base) as state:
            state["neighbours"].append(address)

    def set_fault(self, name: str, value: Any = True) -> None:
        with locked(self.base) as state:
            state["faults"][name] = value

    def state(self) -> dict[str, Any]:
        return read(self.base)
