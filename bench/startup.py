#!/usr/bin/python3
"""What the hot paths cost before they do anything: the interpreter, the imports, one run each.

Runs, on this host against the simulators (tests/sim), the pool agent's depth-0 monitor of an ONLINE
pool and lio-sync-luns' recurring monitor with nothing to do (N zvols, generate mode and ACL mode with
two initiators), beside `python3 -c pass` with and without `-I`, `-s` and `-S`. Per case: wall time
(median of --runs), the instructions the agent's own process executes (valgrind's cachegrind, when
installed; children such as the simulated zfs are not counted), and how many modules it imports
(`-X importtime`). Instructions are the number to compare between trees and hosts: they hardly vary
from run to run, and a TCG-emulated guest's wall time follows them. `--tree DIR` measures another
checkout of lib/ and agents/ (e.g. `git archive <commit> lib agents | tar -x -C DIR`) against this
tree's simulators. Bytecode is compiled first, as an installed package has it.

    /usr/bin/python3 bench/startup.py [--tree DIR] [--runs 20] [--lio-counts 10 100] [--importtime FILE] [--no-instructions]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PYTHON = "/usr/bin/python3"
BASE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HA_LOGFACILITY": "none", "OCF_ROOT": "/usr/lib/ocf", "LC_ALL": "C"}
LIO_IQN = "iqn.2025-01.lab.zfsha:bench"
INITIATORS = "iqn.1998-01.com.vmware:esx1 iqn.1993-08.org.debian:01:pve1"


def wall_ms(argv: list[str], env: dict[str, str], runs: int) -> tuple[float, set[int]]:
    times, codes = [], set()
    for _ in range(runs):
        started = time.perf_counter()
        codes.add(subprocess.run(argv, env=env, capture_output=True).returncode)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, codes


def instructions(argv: list[str], env: dict[str, str]) -> int | None:
    """Instructions of the process itself (not its children), or None without valgrind."""
    if shutil.which("valgrind") is None:
        return None
    done = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", *argv],
        env={**env, "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
    )
    for line in done.stderr.splitlines():
        if "I refs:" in line or "I   refs:" in line:
            return int(line.split(":")[1].replace(",", ""))
    return None


def imported(argv: list[str], env: dict[str, str], keep: Path | None) -> int:
    done = subprocess.run(argv, env={**env, "PYTHONPROFILEIMPORTTIME": "1"}, capture_output=True, text=True)
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    if keep is not None:
        with keep.open("a") as out:
            out.write(f"# {' '.join(argv[1:])}\n" + "\n".join(lines) + "\n")
    return len(lines) - 1  # the header line


def pool_case(tree: Path, work: Path) -> dict[str, str]:
    """An ONLINE simulated pool of 12 mirrors, started by the tree's agent; the monitor's environment."""
    from tests.sim import world

    state = work / "pool"
    world.standard_world(state, host=socket.gethostname(), pool="tank", mirrors=12)
    # A cluster's crm_attribute, so the start publishes the health and the monitors find it unchanged.
    stubs = work / "stubs"
    stubs.mkdir(exist_ok=True)
    (stubs / "crm_attribute").write_text("#!/bin/sh\nexit 0\n")
    (stubs / "crm_attribute").chmod(0o755)
    env = {
        **BASE_ENV,
        "PYTHONPATH": str(tree / "lib"),
        "ZFSHA_TOOL_PATH": f"{stubs}:{world.tool_path()}",
        "ZFSHA_SIM_STATE": str(state),
        "ZFSHA_SYSROOT": world.sysroot(state),
        "OCF_RESOURCE_INSTANCE": "bench",
        "OCF_RESKEY_pool": "tank",
        # README's configuration: both storage nodes' targets, of which this node serves neither.
        "OCF_RESKEY_peer_targets": f"{world.PEER_IQN}@{world.PEER_PORTAL} iqn.2025-01.lab.home:storage-c@192.0.2.3:3260",
        "OCF_RESKEY_CRM_meta_interval": "10000",
        "OCF_RESKEY_CRM_meta_timeout": "30000",
        "OCF_CHECK_LEVEL": "0",
    }
    done = subprocess.run([PYTHON, str(tree / "agents" / "zfs-iscsi-pool"), "start"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pool start failed: {done.stderr}")
    return env


def lio_case(tree: Path, work: Path, count: int, acls: bool) -> dict[str, str]:
    """count simulated zvols exported by the tree's lio-sync-luns; the recurring monitor's environment."""
    state = work / f"lio-{count}-{'acls' if acls else 'generate'}"
    zfs = REPO / "tests" / "sim" / "lio" / "bin" / "zfs"
    env = {
        **BASE_ENV,
        "PYTHONPATH": str(tree / "lib"),
        "ZFSHA_SIM_STATE": str(state),
        "ZFSHA_TOOL_PATH": str(zfs.parent),
        "ZFSHA_LIO_SIM": str(REPO / "tests" / "sim" / "lio" / "fake_configfs.py"),
        "ZFSHA_ZVOL_DEVICE_ROOT": str(state / "dev" / "zvol"),
        "OCF_RESOURCE_INSTANCE": "bench-luns",
        "OCF_RESKEY_target_iqn": LIO_IQN,
        "OCF_RESKEY_portals": "169.254.213.10:3260",
        "OCF_RESKEY_datasets": "tank/iscsi",
        "OCF_RESKEY_acl_mode": "acls" if acls else "generate",
        "OCF_RESKEY_initiators": INITIATORS if acls else "",
        "OCF_RESKEY_CRM_meta_timeout": "600000",
    }
    subprocess.run([str(zfs), "create", "-p", "tank/iscsi"], env=env, check=True)
    for number in range(count):
        subprocess.run([str(zfs), "create", "-V", "1G", f"tank/iscsi/vm-{number:04d}"], env=env, check=True)
    done = subprocess.run([PYTHON, str(tree / "agents" / "lio-sync-luns"), "start"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"lio-sync-luns start failed: {done.stderr}")
    return {**env, "OCF_RESKEY_CRM_meta_interval": "30000"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, default=REPO, help="checkout whose lib/ and agents/ are measured")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--lio-counts", type=int, nargs="*", default=[10, 100], metavar="N")
    parser.add_argument("--importtime", type=Path, help="append each case's -X importtime lines to this file")
    parser.add_argument("--instructions", action=argparse.BooleanOptionalAction, default=True, help="count with valgrind")
    options = parser.parse_args()
    tree = options.tree.resolve()
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(tree / "lib")], env=BASE_ENV, check=True)

    work = Path(tempfile.mkdtemp(prefix="startup-bench-"))
    try:
        cases: list[tuple[str, list[str], dict[str, str]]] = [
            ("python3 -c pass", [PYTHON, "-c", "pass"], BASE_ENV),
            ("python3 -I -c pass", [PYTHON, "-I", "-c", "pass"], BASE_ENV),
            ("python3 -s -c pass", [PYTHON, "-s", "-c", "pass"], BASE_ENV),
            ("python3 -S -c pass", [PYTHON, "-S", "-c", "pass"], BASE_ENV),
        ]
        pool_env = pool_case(tree, work)
        cases.append(("pool monitor depth 0", [str(tree / "agents" / "zfs-iscsi-pool"), "monitor"], pool_env))
        for count in options.lio_counts:
            for acls in (False, True):
                env = lio_case(tree, work, count, acls)
                name = f"lio no-op N={count} {'acls x2' if acls else 'generate'}"
                cases.append((name, [str(tree / "agents" / "lio-sync-luns"), "monitor"], env))

        pth = len(list(Path("/usr/lib/python3/dist-packages").glob("*.pth")))
        print(f"startup bench: tree {tree}, median of {options.runs} runs; {pth} .pth files in /usr/lib/python3/dist-packages")
        print(f"{'case':<32} {'wall ms':>8} {'instructions':>14} {'modules':>8}  exit")
        for name, argv, env in cases:
            wall, codes = wall_ms(argv, env, options.runs)
            counted = instructions(argv, env) if options.instructions else None
            modules = imported(argv, env, options.importtime)
            shown = f"{counted / 1e6:12.1f} M" if counted is not None else f"{'-':>14}"
            print(f"{name:<32} {wall:8.1f} {shown} {modules:8d}  {','.join(map(str, sorted(codes)))}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
