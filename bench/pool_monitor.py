#!/usr/bin/python3
"""Monitor cost of ocf:zfsha:zfs-iscsi-pool (depth 0 and 10) beside ocf:heartbeat:ZFS, same pool, same run.

Prints wall time and CPU (user+sys of the agent and everything it started) per monitor, averaged over
--runs, and how many zpool processes each monitor started. Here the pool is simulated (tests/sim: a
Python zpool, far dearer than the real one, and kstat files under a simulated root), so the process
counts carry over to real ZFS and the times do not; in the VM lab point --real at a real pool.

    /usr/bin/python3 bench/pool_monitor.py [--mirrors 12] [--runs 10] [--real POOL]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

HEARTBEAT_ZFS = "/usr/lib/ocf/resource.d/heartbeat/ZFS"


def measure(argv: list[str], env: dict[str, str], runs: int, count_file: Path | None) -> tuple[float, float, float, set[int]]:
    """Mean wall ms, mean CPU ms, zpool calls per run, and the exit codes seen."""
    codes: set[int] = set()
    wall = cpu = 0.0
    if count_file is not None:
        count_file.unlink(missing_ok=True)
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        codes.add(subprocess.run(argv, env=env, capture_output=True).returncode)
        wall += time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu += (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    calls = len(count_file.read_text().splitlines()) / runs if count_file is not None and count_file.exists() else 0.0
    return wall / runs * 1000, cpu / runs * 1000, calls, codes


def counting_zpool(directory: Path, real_zpool: str, count_file: Path) -> None:
    """A zpool in front of the real (or simulated) one that notes each call."""
    directory.mkdir(parents=True, exist_ok=True)
    wrapper = directory / "zpool"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {count_file}\nexec {real_zpool} "$@"\n')
    wrapper.chmod(0o755)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirrors", type=int, default=12, help="two-way mirrors in the simulated pool (default 12: 24 legs)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--real", metavar="POOL", help="measure an imported real pool instead of the simulator")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pool-monitor-"))
    try:
        count_file = work / "zpool-calls"
        base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HA_LOGFACILITY": "none", "OCF_ROOT": "/usr/lib/ocf"}
        if options.real:
            pool = options.real
            counting_zpool(work / "bin", shutil.which("zpool") or "/usr/sbin/zpool", count_file)
            env = {**base, "ZFSHA_TOOL_PATH": str(work / "bin")}
            described = f"real pool {pool}"
        else:
            from tests.sim import world

            pool = "tank"
            state = work / "sim"
            world.standard_world(state, host=socket.gethostname(), pool=pool, mirrors=options.mirrors)
            counting_zpool(work / "bin", f"{world.tool_path()}/zpool", count_file)
            env = {
                **base,
                "ZFSHA_TOOL_PATH": f"{work / 'bin'}:{world.tool_path()}",
                "ZFSHA_SIM_STATE": str(state),
                "ZFSHA_SYSROOT": world.sysroot(state),
            }
            described = f"simulated pool {pool}, {options.mirrors} mirrors ({2 * options.mirrors} legs)"
        ours = {**env, "PYTHONPATH": str(REPO / "lib"), "OCF_RESKEY_pool": pool, "OCF_RESOURCE_INSTANCE": "bench"}
        agent = ["/usr/bin/python3", str(REPO / "agents" / "zfs-iscsi-pool"), "monitor"]
        if not options.real:
            started = {**ours, "OCF_RESKEY_peer_targets": f"{world.PEER_IQN}@{world.PEER_PORTAL}"}
            subprocess.run([*agent[:2], "start"], env=started, check=True, capture_output=True)
        # heartbeat:ZFS calls plain `zpool` on PATH: put the counting one first.
        theirs = {**env, "PATH": f"{work / 'bin'}:{env['PATH']}", "OCF_RESKEY_pool": pool}

        rows = [
            ("zfsha depth 0", measure(agent, {**ours, "OCF_CHECK_LEVEL": "0"}, options.runs, count_file)),
            ("zfsha depth 10", measure(agent, {**ours, "OCF_CHECK_LEVEL": "10"}, options.runs, count_file)),
        ]
        if os.path.exists(HEARTBEAT_ZFS):
            rows.append(("heartbeat:ZFS", measure(["/bin/sh", HEARTBEAT_ZFS, "monitor"], theirs, options.runs, count_file)))
        rows.append(("python3 -c pass", measure(["/usr/bin/python3", "-c", "pass"], env, options.runs, None)))

        print(f"monitor cost on {described}, mean of {options.runs} runs")
        print(f"{'monitor':<16} {'wall ms':>9} {'cpu ms':>9} {'zpool/run':>10}  exit")
        for name, (wall, cpu, calls, codes) in rows:
            print(f"{name:<16} {wall:9.1f} {cpu:9.1f} {calls:10.1f}  {','.join(map(str, sorted(codes)))}")
        if not options.real:
            print("note: the simulated zpool is a Python program; on real ZFS a zpool call costs what `zpool list` costs there")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
