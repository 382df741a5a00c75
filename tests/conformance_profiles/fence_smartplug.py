"""fence_smartplug's conformance profile: a TP-Link Kasa HS300 strip from the npm device simulator.

The strip's outlets carry the suite's outlet names as their aliases, and fence_smartplug accepts an alias
as plug, so the suite's pcmk_host_map (node1:node1, ...) works unchanged. Kasa is chosen because it is
the family whose outlets have admin-given names; the other families are held to the same behaviour by
tests/fence/test_fence_smartplug.py against their own peers.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tests.conformance_profiles import PeerSetup, running_peer

STRIP_OUTLETS = 6


@contextmanager
def device(setup: PeerSetup) -> Iterator[dict[str, str]]:
    from lab.peers.kasa import install_simulator, simulator_installed

    if len(setup.outlets) > STRIP_OUTLETS:
        raise ValueError(f"a Kasa HS300 strip has {STRIP_OUTLETS} outlets, the suite asked for {len(setup.outlets)}")
    if not simulator_installed():
        install_simulator()
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
    with running_peer(setup, "kasa-peer", argv) as port:
        yield {"type": "kasa", "ip": setup.address, "ipport": str(port)}
