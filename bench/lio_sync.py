#!/usr/bin/python3
"""Time to map N zvols and to resync with nothing to do: one reconcile vs one process per LUN.

Two modes:

- Default (any host): rtslib runs against a directory tree shaped like configfs
  (tests/sim/lio/fake_configfs.py), so the numbers measure planning, rtslib and Python/process costs,
  not the kernel's. The "per-LUN process" column starts one Python process per zvol that imports
  rtslib and creates the backstore, sets emulate_tpu and adds the LUN: a lower bound of one targetcli
  call per LUN (targetcli also loads configshell and walks the whole tree on each call).
- `--real POOL` (inside a lab guest, as root; bench/lab_bench.py runs it there): real zvols below
  POOL/lio-n<N>, real LIO. The agent's start (first export, which also stores each zvol's identity
  with one `zfs program`; then a re-export as after a failover, identity already stored) and its recurring
  monitor with nothing to do (the full one, which reads the target through rtslib and the zvols with
  zfs, as the first monitor after a start and then every 300 s; and the steady one, zfsha.steady, that
  compares a few configfs and /dev/zvol reads with what the last full one saw), run through the
  agent's #! line as Pacemaker runs it, beside the per-LUN approach of ocf:heartbeat:iSCSILogicalUnit: one
  targetcli process per LUN that creates the block backstore (with its serial), sets the thin
  provisioning attributes and creates the LUN, targetcli saving its configuration on exit as it does
  by default. For large N `--per-lun-sample K` times K targetcli calls on an empty TPG and K on a TPG
  that already holds N-K LUNs (the rest created in one rtslib pass, untimed) and estimates the total
  as N times their mean, since each call's cost grows with the tree it loads.

usage: bench/lio_sync.py [N ...]                                   (default: 10 100 1000)
       bench/lio_sync.py --real POOL [--portal ADDR] [--per-lun-sample K] [--per-lun-up-to M] [N ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))

from zfsha.lio import config as lio_config  # noqa: E402
from zfsha.lio import desired, identity, plan  # noqa: E402
from zfsha.lio.model import LioState  # noqa: E402
from zfsha.zvol import Zvol  # noqa: E402

IQN = "iqn.2025-01.lab.zfsha:bench"
PER_LUN = """
import os, sys, importlib.util
spec = importlib.util.spec_from_file_location("sim", os.environ["ZFSHA_LIO_SIM"])
sim = importlib.util.module_from_spec(spec); spec.loader.exec_module(sim)
import rtslib_fb as r
sim.install(r)
name, dev, lun = sys.argv[1], sys.argv[2], int(sys.argv[3])
so = r.BlockStorageObject(name, dev=dev)
so.set_attribute("emulate_tpu", "1")
tpg = r.TPG(r.Target(r.FabricModule("iscsi"), sys.argv[4]), 1)
r.LUN(tpg, lun, storage_object=so)
"""


def config(max_lun_mode: str) -> lio_config.LioConfig:
    return lio_config.parse(
        {
            "target_iqn": IQN,
            "tpg": 1,
            "portals": "127.0.0.1",
            "datasets": "tank/iscsi",
            "acl_mode": max_lun_mode,
            "initiators": "" if max_lun_mode == "generate" else "iqn.2025-01.lab.zfsha:client",
            "chap_file": None,
            "unmap": True,
        }
    )


def timed(work) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def bench(count: int) -> None:
    with tempfile.TemporaryDirectory() as state:
        os.environ["ZFSHA_SIM_STATE"] = state
        os.environ["ZFSHA_LIO_SIM"] = str(REPO / "tests" / "sim" / "lio" / "fake_configfs.py")
        os.environ["ZFSHA_ZVOL_DEVICE_ROOT"] = f"{state}/dev/zvol"
        from zfsha.lio import rtslib_backend

        rtslib_backend._loaded = None
        os.makedirs(f"{state}/dev/zvol/tank/iscsi")
        zvols = [Zvol(f"tank/iscsi/vm-{i:05d}", 1 << 30, 16384) for i in range(count)]
        for zvol in zvols:
            Path(zvol.device).touch()
        cfg = config("generate")
        own = cfg.ownership
        creds = lio_config.Credentials({}, None)
        target = rtslib_backend.LioTarget(IQN, 1)

        def plan_fresh() -> list[plan.Step]:
            assignment = identity.assign(zvols, own, LioState(tpg=None), cfg.max_lun)
            return plan.reconcile(desired.build(cfg, zvols, assignment.identities, creds), LioState(tpg=None), own)

        plan_seconds, steps = timed(plan_fresh)
        apply_seconds, _ = timed(lambda: target.apply(steps))  # type: ignore[arg-type]

        def resync() -> list[plan.Step]:
            actual = target.read()
            assignment = identity.assign(zvols, own, actual, cfg.max_lun)
            return plan.reconcile(desired.build(cfg, zvols, assignment.identities, creds), actual, own)

        noop_seconds, noop_steps = timed(resync)
        assert noop_steps == [], noop_steps
        target.apply(plan.teardown(target.read(), own, IQN, 1))

        per_lun = min(count, 50)
        env = {**os.environ, "PYTHONPATH": str(REPO / "lib")}
        started = time.perf_counter()
        for i, zvol in enumerate(zvols[:per_lun]):
            subprocess.run(["/usr/bin/python3", "-c", PER_LUN, f"p-{i}", zvol.device, str(i), IQN], env=env, check=True)
        per_lun_seconds = (time.perf_counter() - started) / per_lun * count
        ratio = per_lun_seconds / (plan_seconds + apply_seconds)
        print(
            f"N={count:5d}  plan {plan_seconds * 1000:8.1f} ms  apply {apply_seconds:7.2f} s  "
            f"no-op resync {noop_seconds:6.2f} s  | per-LUN process {per_lun_seconds:7.2f} s"
            f"{' (extrapolated from 50)' if per_lun < count else ''}  ratio {ratio:5.1f}x"
        )


# ---- real LIO and ZFS (inside a lab guest) --------------------------------------------------------

AGENT = REPO / "agents" / "lio-sync-luns"
CONFIGFS_TARGET = "/sys/kernel/config/target/iscsi"
# One targetcli process per LUN, fed on stdin the commands iSCSILogicalUnit (lio-t) runs for a LUN.
PER_LUN_COMMANDS = """/backstores/block create name={name} dev={device} wwn={serial}
/backstores/block/{name} set attribute emulate_tpu=1 emulate_tpws=1
/iscsi/{iqn}/tpg1/luns create /backstores/block/{name} lun={lun}
exit
"""


def sh(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]


def ensure_zvols(dataset: str, count: int) -> list[str]:
    """count sparse zvols v0000.. below dataset (created when missing); returns their device paths."""
    names = [f"{dataset}/v{i:04d}" for i in range(count)]
    have = set()
    if subprocess.run(["zfs", "list", dataset], capture_output=True).returncode == 0:
        have = set(sh(["zfs", "list", "-H", "-o", "name", "-r", "-t", "volume", dataset]).stdout.split())
    else:
        sh(["zfs", "create", dataset])
    missing = [name for name in names if name not in have]
    started = time.perf_counter()
    for name in missing:
        sh(["zfs", "create", "-s", "-V", "8M", "-o", "volblocksize=16K", name])
    devices = [f"/dev/zvol/{name}" for name in names]
    sh(["udevadm", "settle", "--timeout=600"])
    while not all(os.path.exists(device) for device in devices):
        time.sleep(0.5)
    if missing:
        print(f"  (created {len(missing)} zvols in {time.perf_counter() - started:.1f} s, devices included)")
    return devices


def clear_lio() -> None:
    from rtslib_fb import RTSRoot

    RTSRoot().clear_existing(confirm=True)


def lun_count(iqn: str) -> int:
    path = f"{CONFIGFS_TARGET}/{iqn}/tpgt_1/lun"
    return len([entry for entry in os.listdir(path) if entry.startswith("lun_")]) if os.path.isdir(path) else 0


def run_agent(action: str, dataset: str, portal: str, recurring: bool = False) -> float:
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONPATH": str(REPO / "lib"),
        "OCF_ROOT": "/usr/lib/ocf",
        "OCF_RESOURCE_INSTANCE": "bench-luns",
        "OCF_RESKEY_target_iqn": IQN,
        "OCF_RESKEY_portals": portal,
        "OCF_RESKEY_datasets": dataset,
        "OCF_RESKEY_acl_mode": "generate",  # ACL mode maps at most 256 LUNs per initiator
        "OCF_RESKEY_CRM_meta_timeout": "3600000",
    }
    if recurring:
        env["OCF_RESKEY_CRM_meta_interval"] = "30000"
    started = time.perf_counter()
    done = subprocess.run([str(AGENT), action], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"lio-sync-luns {action} exited {done.returncode}: {done.stderr.strip()}")
    return seconds


def targetcli_lun(name: str, device: str, serial: str, lun: int) -> float:
    commands = PER_LUN_COMMANDS.format(name=name, device=device, serial=serial, iqn=IQN, lun=lun)
    started = time.perf_counter()
    done = subprocess.run(["targetcli"], input=commands, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0 or "rror" in done.stdout + done.stderr:
        raise SystemExit(f"targetcli for LUN {lun} failed: {(done.stdout + done.stderr).strip()}")
    return seconds


def rtslib_luns(items: list[tuple[str, str, str, int]]) -> None:
    """The objects targetcli would create, in one pass (filler between the timed samples)."""
    from rtslib_fb import LUN, TPG, BlockStorageObject, FabricModule, Target

    tpg = TPG(Target(FabricModule("iscsi"), IQN), 1)
    for name, device, serial, lun in items:
        storage = BlockStorageObject(name, dev=device, wwn=serial)
        storage.set_attribute("emulate_tpu", "1")
        storage.set_attribute("emulate_tpws", "1")
        LUN(tpg, lun, storage_object=storage)


def per_lun_targetcli(devices: list[str], sample: int) -> tuple[float, str]:
    """Seconds to map every device with one targetcli process each (or the sampled estimate)."""
    clear_lio()
    sh(["targetcli", f"/iscsi create {IQN}"])
    items = [(f"pl-{i:04d}", device, f"bench-{i:04d}", i) for i, device in enumerate(devices)]
    if not sample or len(items) <= 2 * sample:
        total = sum(targetcli_lun(*item) for item in items)
        return total, "measured"
    first = [targetcli_lun(*item) for item in items[:sample]]
    rtslib_luns(items[sample:-sample])
    last = [targetcli_lun(*item) for item in items[-sample:]]
    mean_first, mean_last = statistics.mean(first), statistics.mean(last)
    estimate = len(items) * (mean_first + mean_last) / 2
    return estimate, f"estimated: {mean_first:.2f} s/LUN on an empty TPG, {mean_last:.2f} s/LUN beside {len(items) - sample}"


def real(pool: str, counts: list[int], portal: str, sample: int, up_to: int | None) -> None:
    print(f"lio_sync bench on real LIO and ZFS: pool {pool}, acl_mode=generate, portal {portal}; seconds")
    for count in counts:
        dataset = f"{pool}/lio-n{count}"
        devices = ensure_zvols(dataset, count)
        clear_lio()
        for prop in ("zfsha:lun", "zfsha:serial"):
            sh(["zfs", "inherit", "-r", prop, dataset])
        first_start = run_agent("start", dataset, portal)
        mapped = lun_count(IQN)
        # A start changes the target, so the monitor after it looks in full (and remembers what it saw).
        full = [run_agent("monitor", dataset, portal, recurring=True)]
        steady = [run_agent("monitor", dataset, portal, recurring=True) for _ in range(3)]
        stop_seconds = run_agent("stop", dataset, portal)
        restart = run_agent("start", dataset, portal)
        full.append(run_agent("monitor", dataset, portal, recurring=True))
        steady += [run_agent("monitor", dataset, portal, recurring=True) for _ in range(3)]
        run_agent("stop", dataset, portal)
        ours = (
            f"N={count:5d} ({mapped} mapped)  lio-sync-luns start: first {first_start:7.2f}  re-export {restart:7.2f}  "
            f"no-op monitor full {statistics.mean(full):5.2f} (n={len(full)}), steady mean {statistics.mean(steady):5.2f} "
            f"(min {min(steady):.2f}, max {max(steady):.2f}, n={len(steady)})  stop {stop_seconds:6.2f}"
        )
        if up_to is not None and count > up_to:
            print(f"{ours}  | targetcli per LUN not run (N > {up_to})", flush=True)
            continue
        per_lun, how = per_lun_targetcli(devices, sample)
        if lun_count(IQN) != count:
            raise SystemExit(f"targetcli mapped {lun_count(IQN)} LUNs, not {count}")
        clear_lio()
        print(
            f"{ours}  | targetcli per LUN {per_lun:8.2f} ({how})  "
            f"ratio first {per_lun / first_start:5.1f}x, re-export {per_lun / restart:5.1f}x",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("counts", nargs="*", type=int, default=[10, 100, 1000], metavar="N")
    parser.add_argument("--real", metavar="POOL", help="real LIO and ZFS: zvols below POOL/lio-n<N> (run as root in a lab guest)")
    parser.add_argument("--portal", default="0.0.0.0:3260", help="portal of the TPG in --real mode")
    parser.add_argument(
        "--per-lun-sample", type=int, default=0, metavar="K", help="--real: estimate the per-LUN side from 2K calls"
    )
    parser.add_argument("--per-lun-up-to", type=int, metavar="M", help="--real: run the per-LUN side only for N <= M")
    options = parser.parse_args()
    if options.real:
        real(options.real, options.counts, options.portal, options.per_lun_sample, options.per_lun_up_to)
        return
    print("lio_sync bench: rtslib on a configfs-shaped tree (no kernel); real numbers come from the VM lab")
    for count in options.counts:
        bench(count)


if __name__ == "__main__":
    main()
