"""The depth-0 monitor of an ONLINE pool imports only what it uses (HACKING.md: a depth-0 monitor must
stay cheap). Pacemaker runs it every 10 s on every node; inside an emulated guest each needless import
costs tens of milliseconds. The agent is run as Pacemaker runs it (its own #! line, -S), and what it
imported is read from the interpreter's own record (PYTHONPROFILEIMPORTTIME), never from a timing:
the numbers are bench/startup.py's.
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

# What the steady monitor (zfsha.steady: an ONLINE pool, nothing to watch, its health already
# published) may import beyond the interpreter's own start-up: the light modules it reads files with.
STEADY = {
    "__future__",
    "zfsha",
    "zfsha.paths",
    "zfsha.steady",
    "zfsha.zpool",
    "zfsha.zpool.health",
    "zfsha.zpool.kstat",
    "zfsha.zpool.names",
    "zfsha.zpool.steady",
}


def startup_modules() -> set[str]:
    """What an interpreter started with -S has loaded before the agent's first line (not os, not site:
    the steady path imports neither)."""
    done = subprocess.run(["/usr/bin/python3", "-S", "-c", "import sys; print(*sys.modules)"], capture_output=True, text=True)
    return set(done.stdout.split())


def started_pool(tmp_path: Path) -> dict[str, str]:
    """An ONLINE simulated pool started by the agent in a cluster-like environment; the monitor's environment."""
    w.standard_world(tmp_path, host=socket.gethostname())
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    # A cluster's crm_attribute: the start publishes the health; each call is recorded.
    (stubs / "crm_attribute").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/crm_attribute.calls\n')
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
    return {**env, "OCF_CHECK_LEVEL": "0", "OCF_RESKEY_CRM_meta_interval": "10000"}


def monitor_imports_in(env: dict[str, str]) -> tuple[int, list[tuple[int, str]]]:
    """Run the monitor as Pacemaker does (the agent's own #! line); its exit status and its imports as
    (depth, module) in the order the interpreter reports them (a module after the ones it imported)."""
    done = subprocess.run(
        [str(AGENT), "monitor"], env={**env, "PYTHONPROFILEIMPORTTIME": "1"}, capture_output=True, text=True, timeout=60
    )
    modules = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and not line.rstrip().endswith("imported package"):
            name = line.rsplit("|", 1)[1]
            modules.append(((len(name) - len(name.lstrip())) // 2, name.strip()))
    assert any(name == "zfsha.zpool.kstat" for _, name in modules), "the monitor no longer reads the kstat file?"
    return done.returncode, modules


def run_dir_of(env: dict[str, str]) -> Path:
    return Path(env["ZFSHA_SYSROOT"].replace("{hostname}", socket.gethostname()) + "/var/run/zfsha")


@pytest.fixture(scope="module")
def online_pool(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return started_pool(tmp_path_factory.mktemp("monitor-imports"))


def test_steady_monitor_of_an_online_pool_imports_only_the_steady_modules(online_pool) -> None:
    status, modules = monitor_imports_in(online_pool)
    assert status == 0
    extra = sorted({name for _, name in modules} - STEADY - startup_modules())
    assert extra == [], f"the steady depth-0 monitor imports {extra}: the framework waits for other runs"


@pytest.mark.parametrize(
    "case",
    ["probe", "depth 10", "resilver watched", "publish failed", "nothing published", "not imported"],
)
def test_monitor_of_anything_but_the_steady_state_runs_the_full_agent(tmp_path: Path, case: str) -> None:
    env = started_pool(tmp_path)
    memo = run_dir_of(env) / "attribute-zfs-pool-tank-health"
    assert memo.read_text() == "ONLINE", "the start did not publish the health as the steady check expects"
    if case == "probe":
        env["OCF_RESKEY_CRM_meta_interval"] = "0"
    elif case == "depth 10":
        env["OCF_CHECK_LEVEL"] = "10"
    elif case == "resilver watched":
        (run_dir_of(env) / "resilver-tank").write_text("{}")
    elif case == "publish failed":
        memo.write_text("ONLINE\tfailed\t0")
    elif case == "nothing published":
        memo.unlink()
    else:
        assert subprocess.run([sys.executable, str(AGENT), "stop"], env=env, capture_output=True).returncode == 0
    calls = tmp_path / "crm_attribute.calls"
    before = calls.read_text() if calls.exists() else ""
    status, modules = monitor_imports_in(env)
    assert "zfsha.zpool.resource" in {name for _, name in modules}
    if case in ("publish failed", "nothing published"):  # the full monitor publishes the health again
        assert status == 0
        assert calls.read_text()[len(before) :].split() == [
            "--lifetime",
            "reboot",
            "--name",
            "zfs-pool-tank-health",
            "--update",
            "ONLINE",
        ]
        assert memo.read_text() == "ONLINE"
    if case == "not imported":
        assert status == 7
