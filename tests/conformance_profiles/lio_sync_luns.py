"""lio-sync-luns on this host: a `zfs` simulator (tests/sim/lio/bin/zfs) and real rtslib-fb pointed at a
directory tree shaped like configfs (tests/sim/lio/fake_configfs.py, through ZFSHA_LIO_SIM, which only
tests set). The host has no LIO kernel; real LIO is exercised in the virtual-machine lab.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conformance_profiles import OcfProfile, repo_root


@contextmanager
def resource(workdir: Path) -> Iterator[OcfProfile]:
    workdir.mkdir(parents=True, exist_ok=True)
    sim = repo_root() / "tests" / "sim" / "lio"
    env = {
        "ZFSHA_TOOL_PATH": str(sim / "bin"),
        "ZFSHA_SIM_STATE": str(workdir),
        "ZFSHA_LIO_SIM": str(sim / "fake_configfs.py"),
        "ZFSHA_ZVOL_DEVICE_ROOT": str(workdir / "dev" / "zvol"),
    }
    zfs = [str(sim / "bin" / "zfs")]
    for argv in (
        ["create", "-p", "tank/iscsi"],
        ["create", "-V", "1G", "tank/iscsi/vm-100-disk-0"],
        ["create", "-V", "2G", "tank/iscsi/vm-101-disk-0"],
    ):
        subprocess.run(zfs + argv, env={"ZFSHA_SIM_STATE": str(workdir)}, check=True)
    chap = workdir / "client.chap"
    chap.write_text("userid=client\npassword=conformance-secret-1\n")
    chap.chmod(0o600)
    params = {
        "target_iqn": "iqn.2025-01.lab.zfsha:conformance",
        "portals": "127.0.0.1:3260",
        "datasets": "tank/iscsi",
        "initiators": f"iqn.2025-01.lab.zfsha:client={chap}",
        "device_timeout": "2",
    }
    invalid = {**params, "target_iqn": "iqn.2024-01.lab:under_score"}
    yield OcfProfile(params=params, invalid_params=invalid, env=env)
