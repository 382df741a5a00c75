"""Conformance profile of ocf:zfsha:zfs-iscsi-pool: seed 004's pool on a simulated storage node.

The host kernel has no ZFS or iSCSI initiator, so the agent really starts, monitors and stops the pool
against the command simulators in tests/sim/bin (zpool, zfs, iscsiadm, udevadm) with their world in the
work directory. crm_attribute is NOT simulated: inside the suite's cluster the real one publishes the
health attribute; outside it fails and the agent logs that. The local disks belong to whichever node
runs the agent (the cluster's node names are not known here); the peer's LUNs come over a simulated
iSCSI session to storage-b.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conformance_profiles import OcfProfile
from tests.sim import world


@contextmanager
def resource(workdir: Path) -> Iterator[OcfProfile]:
    state = workdir / "zfs-sim"
    state.mkdir(parents=True, exist_ok=True)
    # Registered hosts get a hostid and a root: this host (crm_resource --force-*) and the suite's nodes.
    nodes = tuple(f"node{index}" for index in range(1, 4))
    target = world.standard_world(state, host=world.ANY_HOST, also=(socket.gethostname(), *nodes))
    params = {"pool": "tank", "peer_targets": target, "device_wait": "2"}
    try:
        yield OcfProfile(
            params=params,
            invalid_params={**params, "peer_targets": "10.10.10.2:3260"},
            env={
                "ZFSHA_TOOL_PATH": world.tool_path(),
                "ZFSHA_SIM_STATE": str(state),
                "ZFSHA_SYSROOT": world.sysroot(state),
            },
        )
    finally:
        # The simulators start no lasting process: the world is files under the work directory.
        shutil.rmtree(state, ignore_errors=True)
