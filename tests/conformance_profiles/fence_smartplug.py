"""fence_smartplug's conformance profile: a TP-Link Kasa HS300 strip from the npm device simulator.

The strip's outlets carry the suite's outlet names as their aliases, and fence_smartplug accepts an alias
as plug, so the suite's pcmk_host_map (node1:node1, ...) works unchanged. Kasa is chosen because it is
the family whose outlets have admin-given names; the other families are held to the same behaviour by
tests/fence/test_fence_smartplug.py against their own peers.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.conformance_profiles import PeerSetup, repo_root

STRIP_OUTLETS = 6
READY_TIMEOUT = 30.0


@contextmanager
def device(setup: PeerSetup) -> Iterator[dict[str, str]]:
    from lab.peers.kasa import install_simulator, simulator_installed

    if len(setup.outlets) > STRIP_OUTLETS:
        raise ValueError(f"a Kasa HS300 strip has {STRIP_OUTLETS} outlets, the suite asked for {len(setup.outlets)}")
    if not simulator_installed():
        install_simulator()
    ready_file = setup.workdir / "kasa-peer.ready"
    ready_file.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "lab.peers.kasa", "--model", "hs300", "--listen", setup.address, "--port", "0"]
    for name, hooks in setup.outlets.items():
        argv += [
            "--outlet",
            f"{name}=ON",
            "--off-hook",
            f"{name}={shlex.join(hooks.off)}",
            "--on-hook",
            f"{name}={shlex.join(hooks.on)}",
        ]
    # spawn() takes only argv: the peer's "READY <port>" line goes to a file, and the repo onto its path.
    wrapped = ["env", f"PYTHONPATH={repo_root()}", "sh", "-c", 'exec "$@" > "$0"', str(ready_file), *argv]
    process = setup.spawn(wrapped)
    try:
        port = _wait_ready(process, ready_file)
        yield {"type": "kasa", "ip": setup.address, "ipport": str(port)}
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen[bytes], ready_file) -> int:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Kasa peer exited with status {process.returncode} before it was ready")
        words = ready_file.read_text().split() if ready_file.exists() else []
        if len(words) >= 2 and words[0] == "READY":
            return int(words[1])
        time.sleep(0.05)
    raise RuntimeError("the Kasa peer did not report READY")
