#!/usr/bin/python3
"""Time to map N zvols and to resync with nothing to do: one reconcile vs one process per LUN.

On this host there is no LIO kernel: rtslib runs against a directory tree shaped like configfs
(tests/sim/lio/fake_configfs.py), so the numbers measure planning, rtslib and Python/process costs,
not the kernel's. Real numbers (and the targetcli side by side) come from the virtual-machine lab.
The "per-LUN process" column starts one Python process per zvol that imports rtslib and creates the
backstore, sets emulate_tpu and adds the LUN, as one targetcli call per LUN would; it is a lower bound
of that approach (targetcli itself also loads configshell and walks the whole tree on each call).

usage: bench/lio_sync.py [N ...]   (default: 10 100 1000)
"""

from __future__ import annotations

import os
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


def main() -> None:
    counts = [int(a) for a in sys.argv[1:]] or [10, 100, 1000]
    print("lio_sync bench: rtslib on a configfs-shaped tree (no kernel); real numbers come from the VM lab")
    for count in counts:
        bench(count)


if __name__ == "__main__":
    main()
