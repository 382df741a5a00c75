"""What the conformance suite needs from each agent to run it for real on this host.

Every executable in agents/ and fence/ must have a module here named after it (dashes become
underscores: agents/zfs-iscsi-pool -> zfs_iscsi_pool.py); the suite fails for an agent without one.

An OCF agent's module defines

    @contextmanager
    def resource(workdir: Path) -> Iterator[OcfProfile]: ...

yielding a configuration that can really start on this host (against the command simulators in
tests/sim where the real tools need a kernel this host lacks), and cleaning up after itself.

A fence agent's module defines

    @contextmanager
    def device(setup: PeerSetup) -> Iterator[dict[str, str]]: ...

which starts the agent's real protocol peer (from lab/peers) with `setup.spawn` — so it listens where
the cluster nodes can reach it, at `setup.address` — with one outlet per entry of `setup.outlets`,
whose off/on hooks run the given argv (that is what powers a namespace node off and on), and yields the
agent's options (everything but action and plug/port) for `pcs stonith create`. The outlet names are
the plug values; the suite maps nodes to them with pcmk_host_map.
"""

from __future__ import annotations

import importlib
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

READY_TIMEOUT = 30.0


@dataclass
class OcfProfile:
    # Instance attributes of a configuration that starts on this host.
    params: dict[str, str]
    # A configuration validate-all must refuse with ERR_CONFIGURED or ERR_ARGS, and start must refuse.
    invalid_params: dict[str, str]
    # Extra environment the agent needs here (e.g. ZFSHA_TOOL_PATH, ZFSHA_SIM_STATE).
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class PowerHooks:
    off: Sequence[str]
    on: Sequence[str]


@dataclass
class PeerSetup:
    workdir: Path
    # Address the peer must listen on (reachable from the cluster's nodes).
    address: str
    # Outlet name -> argv run when that outlet switches off / on.
    outlets: dict[str, PowerHooks]
    # Starts a process where the nodes can reach it (a cluster's bridge namespace, or the host).
    spawn: Callable[[Sequence[str]], subprocess.Popen[bytes]]


def module_for(executable: str):  # type: ignore[no-untyped-def]
    """The profile module of an agent executable, e.g. 'fence_ipmi' or 'zfs-iscsi-pool'."""
    return importlib.import_module(f"tests.conformance_profiles.{executable.replace('-', '_')}")


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


@contextmanager
def running_peer(setup: PeerSetup, name: str, argv: Sequence[str]) -> Iterator[int]:
    """Start a lab peer with `setup.spawn` and yield the port of its "READY <port>" line.

    spawn() takes only argv, so the READY line goes to a file and the repo onto the peer's path. The
    peer is stopped (SIGTERM, then SIGKILL) when the block ends.
    """
    ready_file = setup.workdir / f"{name}.ready"
    ready_file.unlink(missing_ok=True)
    wrapped = ["env", f"PYTHONPATH={repo_root()}", "sh", "-c", 'exec "$@" > "$0"', str(ready_file), *argv]
    process = setup.spawn(wrapped)
    try:
        yield _ready_port(process, ready_file, name)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ready_port(process: subprocess.Popen[bytes], ready_file: Path, name: str) -> int:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"peer {name} exited with status {process.returncode} before it was ready")
        words = ready_file.read_text().split() if ready_file.exists() else []
        if len(words) >= 2 and words[0] == "READY":
            return int(words[1])
        time.sleep(0.05)
    raise RuntimeError(f"peer {name} did not report READY within {READY_TIMEOUT:g} s")
