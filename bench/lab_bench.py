#!/usr/bin/python3
"""Run the real-LIO and real-ZFS benchmarks inside one lab guest and print their numbers.

Boots storage-a of the VM lab from the cached base image (it never builds one: run
`python3 -m lab.vm build-image` first), copies this tree's lib/, agents/ and bench/ in, and runs there:

- bench/lio_sync.py --real: lio-sync-luns mapping N zvols and its no-op monitor, beside one
  targetcli process per LUN, on a pool on the guest's data disk;
- bench/pool_monitor.py --real --import-check: monitor cost of zfs-iscsi-pool (depth 0 and 10) beside
  ocf:heartbeat:ZFS on a multihost pool of --mirrors two-way mirrors of file vdevs, then both agents'
  imports beside the activity-check floor.

Numbers only; nothing here passes or fails. Run as root on the host:

    /usr/bin/python3 bench/lab_bench.py [--lio-counts 10 100] [--per-lun-sample K] [--per-lun-up-to M] [--mirrors 12] [--runs 10]
        [--skip-lio] [--skip-pool]

LAB_VM_CACHE, LAB_VM_MCAST_PORT, LAB_VM_ACCEL and LAB_VM_KEEP work as for the lab's tests.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "lib")]

from lab.vm import storage  # noqa: E402
from lab.vm.guest import Guest  # noqa: E402
from lab.vm.image import DEFAULT_CACHE, Image  # noqa: E402
from lab.vm.lab import Lab  # noqa: E402

GUEST_TREE = "/root/zfsha"
SHIPPED = ("lib", "agents", "bench")
LIO_POOL = "benchpool"
MONITOR_POOL = "monpool"
VDEV_DIR = "/var/tmp/monpool-vdevs"
VDEV_MIB = 128


def cached_image() -> Image:
    """The newest image already built in the cache: a benchmark must not spend 10 minutes building one."""
    cache = Path(os.environ.get("LAB_VM_CACHE") or DEFAULT_CACHE)
    manifests = sorted(cache.glob("*/manifest.json"), key=lambda path: path.stat().st_mtime)
    if not manifests:
        raise SystemExit(f"no lab image in {cache}: run python3 -m lab.vm build-image first")
    return Image.load(manifests[-1].parent)


def tree_archive() -> bytes:
    """lib/, agents/ and bench/ of the working tree (tracked and new files), as a tar.gz."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z", *SHIPPED], cwd=REPO, check=True, capture_output=True
    ).stdout.split(b"\0")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in filter(None, (item.decode() for item in listed)):
            if (REPO / name).is_file():
                archive.add(REPO / name, arcname=name)
    return buffer.getvalue()


def run_in_guest(guest: Guest, argv: list[str], timeout: float) -> None:
    started = time.monotonic()
    result = guest.exec(argv, timeout=timeout)
    print(result.stdout, end="", flush=True)
    if result.rc != 0:
        print(f"[{' '.join(argv[:3])} exited {result.rc} after {time.monotonic() - started:.0f} s]\n{result.stderr}", flush=True)


def bench_lio(guest: Guest, lab: Lab, counts: list[int], sample: int, up_to: int | None) -> None:
    guest.exec(
        ["zpool", "create", "-f", "-o", "ashift=12", "-m", "none", LIO_POOL, storage.local_disk("storage-a-d0")], check=True
    )
    portal = f"{lab.storage_address('storage-a')}:{storage.ISCSI_PORT}"
    for count in counts:
        argv = ["python3", f"{GUEST_TREE}/bench/lio_sync.py", "--real", LIO_POOL, "--portal", portal]
        if sample:
            argv += ["--per-lun-sample", str(sample)]
        if up_to is not None:
            argv += ["--per-lun-up-to", str(up_to)]
        run_in_guest(guest, [*argv, str(count)], timeout=4 * 3600)
    guest.exec(["zpool", "destroy", LIO_POOL], timeout=600)


def bench_pool(guest: Guest, mirrors: int, runs: int) -> None:
    legs = [f"{VDEV_DIR}/leg-{i:02d}" for i in range(2 * mirrors)]
    guest.exec(["mkdir", "-p", VDEV_DIR], check=True)
    guest.exec(["truncate", "-s", f"{VDEV_MIB}M", *legs], check=True)
    layout: list[str] = []
    for i in range(mirrors):
        layout += ["mirror", legs[2 * i], legs[2 * i + 1]]
    create = ["zpool", "create", "-f", "-o", "multihost=on", "-o", "cachefile=none", "-m", "none", MONITOR_POOL, *layout]
    guest.exec(create, timeout=600, check=True)
    argv = ["python3", f"{GUEST_TREE}/bench/pool_monitor.py", "--real", MONITOR_POOL, "--runs", str(runs)]
    run_in_guest(guest, [*argv, "--import-check", VDEV_DIR], timeout=3600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lio-counts", type=int, nargs="+", default=[10, 100], metavar="N")
    parser.add_argument("--per-lun-sample", type=int, default=0, metavar="K")
    parser.add_argument("--per-lun-up-to", type=int, metavar="M", help="the per-LUN targetcli side only for N <= M")
    parser.add_argument("--mirrors", type=int, default=12)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--disk-mib", type=int, default=8192, help="the guest's data disk (sparse), home of the LIO pool")
    parser.add_argument("--skip-lio", action="store_true")
    parser.add_argument("--skip-pool", action="store_true")
    options = parser.parse_args()

    image = cached_image()
    lab = Lab(image, data_disks=1, disk_mib=options.disk_mib)
    guest = lab["storage-a"]
    try:
        booted = lab.start(["storage-a"])
        facts = {
            "image": image.directory.name,
            "boot_s": round(booted["storage-a"], 1),
            "guest_cpus": guest.cpus,
            "guest_mem_mib": guest.mem,
            "accel": guest.accel,
            "zfs": guest.exec(["zfs", "version"]).stdout.split()[0],
            "kernel": guest.exec(["uname", "-r"]).stdout.strip(),
            "host_load": os.getloadavg()[0],
        }
        print("lab bench:", json.dumps(facts), flush=True)
        guest.write_file("/root/zfsha.tgz", tree_archive())
        guest.exec(["mkdir", "-p", GUEST_TREE], check=True)
        guest.exec(["tar", "-xzf", "/root/zfsha.tgz", "-C", GUEST_TREE], check=True)
        # Bytecode as the installed package has it (dh_python3 compiles on install): otherwise the
        # first agent run of the bench also compiles the library.
        guest.exec(["python3", "-m", "compileall", "-q", f"{GUEST_TREE}/lib"], timeout=600, check=True)
        if not options.skip_lio:
            bench_lio(guest, lab, options.lio_counts, options.per_lun_sample, options.per_lun_up_to)
        if not options.skip_pool:
            bench_pool(guest, options.mirrors, options.runs)
        print(f"host load average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        lab.dispose()


if __name__ == "__main__":
    main()
