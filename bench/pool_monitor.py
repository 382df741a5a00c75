#!/usr/bin/python3
"""Monitor cost of ocf:zfsha:zfs-iscsi-pool (depth 0 and 10) beside ocf:heartbeat:ZFS, same pool, same run.

Prints wall time and CPU (user+sys of the agent and everything it started) per monitor, averaged over
--runs after one run that is not counted, and how many zpool processes each monitor started. Our agent
runs as Pacemaker runs a recurring monitor: through its #! line, with an interval, and with a
crm_attribute that succeeds standing in for the cluster's attribute daemon (so the depth-0 monitor of
an ONLINE pool is the steady one, zfsha.steady, once the health is published). Here the pool is simulated (tests/sim: a
Python zpool, far dearer than the real one, and kstat files under a simulated root), so the process
counts carry over to real ZFS and the times do not; in the VM lab point --real at a real pool.

    /usr/bin/python3 bench/pool_monitor.py [--mirrors 12] [--runs 10] [--real POOL [--import-check DIR]]

--import-check DIR (real pools of file vdevs in DIR, inside a lab guest) also times the agents' imports
beside the multihost activity-check floor (zfs_multihost_import_intervals x zfs_multihost_interval):
a hand-over from a holder that exported, and an import after the holder crashed. The crash is staged on
one host: copies of the imported pool's vdev files (their labels still say ACTIVE), the original
exported, and the hostid switched to another value while the copies are imported, so ZFS sees a pool
last used by another host and runs its activity check. The hostid is switched back afterwards.
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
    subprocess.run(argv, env=env, capture_output=True)  # not counted: e.g. the first publish of the health
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


def cluster_stand_in(directory: Path) -> None:
    """crm_attribute that succeeds, as the cluster's attribute daemon answers it on a cluster node."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "crm_attribute").write_text("#!/bin/sh\nexit 0\n")
    (directory / "crm_attribute").chmod(0o755)


def tunable(name: str) -> int:
    return int(Path(f"/sys/module/zfs/parameters/{name}").read_text())


def timed_run(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    return time.perf_counter() - started, done


def exit_reason(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    reasons = [line.split("ocf-exit-reason:", 1)[1] for line in lines if "ocf-exit-reason:" in line]
    return (reasons or lines or [""])[-1].strip()[:160]


def set_hostid(hostid: str) -> None:
    """Switch this host's hostid (8 hex digits): /etc/hostid, and spl's parameter when it overrides the file."""
    subprocess.run(["zgenhostid", "-f", hostid], check=True, capture_output=True)
    parameter = Path("/sys/module/spl/parameters/spl_hostid")
    if parameter.exists() and int(parameter.read_text()) != 0:
        parameter.write_text(str(int(hostid, 16)))


def import_check(pool: str, vdev_dir: str, ours: dict[str, str], theirs: dict[str, str]) -> None:
    """Import times of both agents beside the activity-check floor; leaves the pool imported as found."""
    intervals, interval_ms = tunable("zfs_multihost_import_intervals"), tunable("zfs_multihost_interval")
    print(
        f"\nimport of {pool} ({vdev_dir}); multihost activity-check floor: zfs_multihost_import_intervals "
        f"{intervals} x zfs_multihost_interval {interval_ms} ms = {intervals * interval_ms / 1000:.1f} s"
    )
    agent = [str(REPO / "agents" / "zfs-iscsi-pool")]
    zfsha = {**ours, "OCF_RESKEY_device_dirs": vdev_dir, "OCF_RESKEY_mount": "false", "OCF_RESKEY_CRM_meta_timeout": "300000"}
    heartbeat = {**theirs, "OCF_RESKEY_importargs": f"-d {vdev_dir}"}
    rows: list[tuple[str, float, subprocess.CompletedProcess[str]]] = []

    def step(name: str, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        seconds, done = timed_run(argv, env)
        rows.append((name, seconds, done))
        return done

    step("zfsha stop (export)", [*agent, "stop"], zfsha)
    step("zfsha start, holder exported", [*agent, "start"], zfsha)
    step("zfsha stop (export)", [*agent, "stop"], zfsha)
    step("heartbeat start, holder exported", ["/bin/sh", HEARTBEAT_ZFS, "start"], heartbeat)
    step("heartbeat stop", ["/bin/sh", HEARTBEAT_ZFS, "stop"], heartbeat)
    subprocess.run(["zpool", "import", "-d", vdev_dir, "-o", "cachefile=none", pool], check=True, capture_output=True)
    subprocess.run(["zpool", "sync", pool], check=True)
    # Two copies taken while the pool is imported (labels ACTIVE): one crash for each agent.
    crashed = {name: f"{vdev_dir.rstrip('/')}-crashed-{name}" for name in ("zfsha", "heartbeat")}
    for directory in crashed.values():
        subprocess.run(["mkdir", "-p", directory], check=True)
        subprocess.run(["cp", "-a", "--sparse=always", vdev_dir.rstrip("/") + "/.", directory + "/"], check=True)
    subprocess.run(["zpool", "export", pool], check=True)
    own_hostid = subprocess.run(["hostid"], check=True, capture_output=True, text=True).stdout.strip()
    other_hostid = f"{int(own_hostid, 16) ^ 0x5A5A5A5A:08x}"
    crashed_zfsha = {**zfsha, "OCF_RESKEY_device_dirs": crashed["zfsha"]}
    crashed_heartbeat = {**heartbeat, "OCF_RESKEY_importargs": f"-d {crashed['heartbeat']}"}
    try:
        set_hostid(other_hostid)
        step("zfsha start, holder crashed", [*agent, "start"], crashed_zfsha)
        step("zfsha start, crashed, force_import", [*agent, "start"], {**crashed_zfsha, "OCF_RESKEY_force_import": "true"})
        step("zfsha stop (export)", [*agent, "stop"], crashed_zfsha)
        step("heartbeat start (-f), holder crashed", ["/bin/sh", HEARTBEAT_ZFS, "start"], crashed_heartbeat)
        step("heartbeat stop", ["/bin/sh", HEARTBEAT_ZFS, "stop"], crashed_heartbeat)
    finally:
        set_hostid(own_hostid)
        subprocess.run(["zpool", "export", pool], capture_output=True)
        for directory in crashed.values():
            shutil.rmtree(directory, ignore_errors=True)
        subprocess.run(["zpool", "import", "-d", vdev_dir, "-o", "cachefile=none", pool], check=True, capture_output=True)
    print(f"{'step':<38} {'seconds':>8}  exit  reason")
    for name, seconds, done in rows:
        print(f"{name:<38} {seconds:8.2f}  {done.returncode:4d}  {exit_reason(done) if done.returncode else ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirrors", type=int, default=12, help="two-way mirrors in the simulated pool (default 12: 24 legs)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--real", metavar="POOL", help="measure an imported real pool instead of the simulator")
    parser.add_argument("--import-check", metavar="DIR", help="with --real: time imports; DIR holds the pool's file vdevs")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pool-monitor-"))
    try:
        count_file = work / "zpool-calls"
        base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HA_LOGFACILITY": "none", "OCF_ROOT": "/usr/lib/ocf"}
        if options.real:
            pool = options.real
            counting_zpool(work / "bin", shutil.which("zpool") or "/usr/sbin/zpool", count_file)
            env = {**base, "ZFSHA_TOOL_PATH": f"{work / 'cluster'}:{work / 'bin'}"}
            described = f"real pool {pool}"
        else:
            from tests.sim import world

            pool = "tank"
            state = work / "sim"
            world.standard_world(state, host=socket.gethostname(), pool=pool, mirrors=options.mirrors)
            counting_zpool(work / "bin", f"{world.tool_path()}/zpool", count_file)
            env = {
                **base,
                "ZFSHA_TOOL_PATH": f"{work / 'cluster'}:{work / 'bin'}:{world.tool_path()}",
                "ZFSHA_SIM_STATE": str(state),
                "ZFSHA_SYSROOT": world.sysroot(state),
            }
            described = f"simulated pool {pool}, {options.mirrors} mirrors ({2 * options.mirrors} legs)"
        cluster_stand_in(work / "cluster")
        ours = {**env, "PYTHONPATH": str(REPO / "lib"), "OCF_RESKEY_pool": pool, "OCF_RESOURCE_INSTANCE": "bench"}
        agent = [str(REPO / "agents" / "zfs-iscsi-pool"), "monitor"]
        if not options.real:
            started = {**ours, "OCF_RESKEY_peer_targets": f"{world.PEER_IQN}@{world.PEER_PORTAL}"}
            subprocess.run([agent[0], "start"], env=started, check=True, capture_output=True)
        recurring = {**ours, "OCF_RESKEY_CRM_meta_interval": "10000"}
        # heartbeat:ZFS calls plain `zpool` on PATH: put the counting one first.
        theirs = {**env, "PATH": f"{work / 'bin'}:{env['PATH']}", "OCF_RESKEY_pool": pool}

        rows = [
            ("zfsha depth 0", measure(agent, {**recurring, "OCF_CHECK_LEVEL": "0"}, options.runs, count_file)),
            ("zfsha depth 10", measure(agent, {**recurring, "OCF_CHECK_LEVEL": "10"}, options.runs, count_file)),
        ]
        if os.path.exists(HEARTBEAT_ZFS):
            rows.append(("heartbeat:ZFS", measure(["/bin/sh", HEARTBEAT_ZFS, "monitor"], theirs, options.runs, count_file)))
        rows.append(("python3 -c pass", measure(["/usr/bin/python3", "-c", "pass"], env, options.runs, None)))
        rows.append(("python3 -S -c pass", measure(["/usr/bin/python3", "-S", "-c", "pass"], env, options.runs, None)))

        print(f"monitor cost on {described}, mean of {options.runs} runs")
        print(f"{'monitor':<16} {'wall ms':>9} {'cpu ms':>9} {'zpool/run':>10}  exit")
        for name, (wall, cpu, calls, codes) in rows:
            print(f"{name:<16} {wall:9.1f} {cpu:9.1f} {calls:10.1f}  {','.join(map(str, sorted(codes)))}")
        if not options.real:
            print("note: the simulated zpool is a Python program; on real ZFS a zpool call costs what `zpool list` costs there")
        elif options.import_check:
            import_check(pool, options.import_check, ours, theirs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
