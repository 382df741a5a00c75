"""Conformance profile of ocf:zfsha:fbsd-jail-nfs: the seed-000 NFS jail on a simulated FreeBSD host.

No FreeBSD kernel is reachable here, so the agent really starts, monitors and stops the jail against the
FreeBSD command simulator (tests/sim/freebsd): jail(8), jls(8), jexec(8), zfs-jail(8), ifconfig(8) vnet,
kldstat(8), arping, rpcinfo(8), showmount(8), with its host state under the work directory.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conformance_profiles import OcfProfile
from tests.unit.jail.sim_host import build


@contextmanager
def resource(workdir: Path) -> Iterator[OcfProfile]:
    workdir.mkdir(parents=True, exist_ok=True)
    sim = build(workdir)
    try:
        yield OcfProfile(
            params=sim.params(),
            invalid_params=sim.params(service_ip="nfs.example.com"),
            env=sim.env(),
        )
    finally:
        # The simulator starts no process: its jails are records in the state directory.
        shutil.rmtree(sim.base, ignore_errors=True)
