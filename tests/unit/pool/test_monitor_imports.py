"""The depth-0 monitor of an ONLINE pool imports only what it uses (HACKING.md: a depth-0 monitor must
stay cheap). Pacemaker runs it every 10 s on every node; inside an emulated guest each needless import
costs tens of milliseconds. What the agent imported is read from the interpreter's own record
(`python3 -X importtime`), never from a timing: the numbers are bench/startup.py's.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sim import world as w

REPO = Path(__file__).resolve().parents[3]
AGENT = REPO / "agents" / "zfs-iscsi-pool"

# Never on this path, with what needs them instead.
UNNEEDED = {
    "subprocess": "a steady monitor starts no process (attributes.publish runs crm_attribute only on a change)",
    "zfsha.run": "the command runner: only when a command runs",
    "lxml": "only meta-data renders XML",
    "xml": "validate-all at depth 10 parses the CIB",
    "zfsha.ocf.metadata": "meta-data",
    "configparser": "zfsha.version reads setup.cfg for meta-data only",
    "importlib.metadata": "zfsha.version, for meta-data only",
    "argparse": "nothing in an agent",
    "tempfile": "nothing on this path",
    "shutil": "zfsha.run's which()",
    "uuid": "nothing on this path",
    "encodings.idna": "served_here resolves portals as ASCII bytes",
    "unicodedata": "the idna codec",
    "zfsha.iscsi.sessions": "start and depth 10",
    "zfsha.iscsi.openiscsi": "start and depth 10",
    "json": "the resilver watch file and zpool status -j",
    "zfsha.zpool.decisions": "validate needs only zfsha.zpool.names; the rest is for examine, start and stop",
    "zfsha.zpool.refusal": "a refused import",
    "zfsha.zpool.status": "zpool status, read only when the pool is not plainly ONLINE",
    "zfsha.zpool.service": "start, stop and bring-back",
    "zfsha.zpool.labels": "an import that may need forcing",
}
# Imported today by modules another change owns; listed so that the day they are deferred shows up
# (as XPASS) and the module moves to UNNEEDED.
PENDING = {
    "dataclasses": "zfsha.platform and zfsha.zpool.pool define dataclasses at import",
    "inspect": "dataclasses",
    "pathlib": "zfsha.platform imports Path at the top",
    "socket": "zfsha.platform imports socket at the top (host_path needs it only under ZFSHA_SYSROOT={hostname})",
}


def imports_of_monitor(tmp_path: Path) -> list[tuple[int, str]]:
    """(depth, module) in the order -X importtime reports them: a module after the ones it imported."""
    w.standard_world(tmp_path, host=socket.gethostname())
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "crm_attribute").write_text("#!/bin/sh\nexit 0\n")  # a cluster: the start publishes the health
    (stubs / "crm_attribute").chmod(0o755)
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONPATH": str(REPO / "lib"),
        "ZFSHA_TOOL_PATH": f"{stubs}:{w.tool_path()}",
        "ZFSHA_SIM_STATE": str(tmp_path),
        "ZFSHA_SYSROOT": w.sysroot(tmp_path),
        "HA_LOGFACILITY": "none",
        "OCF_ROOT": "/usr/lib/ocf",
        "OCF_RESOURCE_INSTANCE": "pool",
        "OCF_RESKEY_pool": "tank",
        # The README's list: a peer's target and one more that this node does not serve either.
        "OCF_RESKEY_peer_targets": f"{w.PEER_IQN}@{w.PEER_PORTAL} iqn.2025-01.lab.home:storage-c@192.0.2.3:3260",
        "OCF_RESKEY_device_wait": "2",
    }
    started = subprocess.run([sys.executable, str(AGENT), "start"], env=env, capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    monitor = {**env, "OCF_CHECK_LEVEL": "0", "OCF_RESKEY_CRM_meta_interval": "10000"}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(AGENT), "monitor"], env=monitor, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    modules = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and not line.rstrip().endswith("imported package"):
            name = line.rsplit("|", 1)[1]
            modules.append(((len(name) - len(name.lstrip())) // 2, name.strip()))
    assert any(name == "zfsha.zpool.kstat" for _, name in modules), "the monitor no longer reads the kstat file?"
    return modules


def chain(modules: list[tuple[int, str]], index: int) -> str:
    """'a <- b <- c': the module at index and the ones whose import brought it in."""
    depth, name = modules[index]
    names = [name]
    for later_depth, later in modules[index + 1 :]:
        if later_depth < depth:
            names.append(later)
            depth = later_depth
    return " <- ".join(names)


def found(modules: list[tuple[int, str]], wanted: str) -> str | None:
    for index, (_, name) in enumerate(modules):
        if name == wanted or name.startswith(wanted + "."):
            return chain(modules, index)
    return None


@pytest.fixture(scope="module")
def monitor_imports(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, str]]:
    return imports_of_monitor(tmp_path_factory.mktemp("monitor-imports"))


@pytest.mark.parametrize("module", sorted(UNNEEDED))
def test_depth_0_monitor_of_an_online_pool_does_not_import(monitor_imports, module: str) -> None:
    how = found(monitor_imports, module)
    assert how is None, f"the depth-0 monitor imports {module} ({how}); {UNNEEDED[module]}"


@pytest.mark.parametrize(
    "module", [pytest.param(name, marks=pytest.mark.xfail(reason=why, strict=False)) for name, why in sorted(PENDING.items())]
)
def test_depth_0_monitor_will_not_import(monitor_imports, module: str) -> None:
    how = found(monitor_imports, module)
    assert how is None, f"{module} is imported ({how})"
