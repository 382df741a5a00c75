"""What zfs-iscsi-pool's force_import may force, and how it reports the pool it took over, on real
ZFS over real iSCSI.

storage-b holds a pool mirroring its own disk with storage-a's LUN; storage-a runs the installed
agent's start with force_import=true against its own leg (the disk storage-b writes to over iSCSI),
as the node taking over would. ZFS refuses a plain import in the same words whether the holder
crashed or still runs a multihost=off pool; the agent must tell the two apart from the legs' labels
and force only what the multihost activity check guards. Each start's debug log is read for the
zpool imports it ran. Then the pool storage-a took over reports DEGRADED (190), and once its last
leg is gone, SUSPENDED: an error, never "not running", and a stop that fails at once. The labels and
blkid's probe are kept as the unit tests' captures.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.vm import storage
from lab.vm.capture import capture
from lab.vm.guest import ExecResult, Guest
from lab.vm.image import Image
from lab.vm.lab import Lab

pytestmark = pytest.mark.lab

POOL = "fpool"
AGENT = "/usr/lib/ocf/resource.d/zfsha/zfs-iscsi-pool"
LEG_DIR = "/dev/disk/by-partlabel"


@pytest.fixture(scope="module")
def pair(base_image: Image, zfsha_deb: Path) -> Iterator[Lab]:
    """storage-a exporting its partitioned disk over iSCSI, storage-b logged in, the package installed."""
    lab = Lab(base_image, data_disks=1, disk_mib=256)
    try:
        lab.start(["storage-a", "storage-b"])
        lab.install_deb(zfsha_deb, ["storage-a", "storage-b"])
        yield lab
    finally:
        lab.dispose()


def partlabel(name: str) -> str:
    return f"{LEG_DIR}/{name}-d0"


def run_agent(guest: Guest, action: str, **params: str) -> ExecResult:
    """The agent's action as Pacemaker runs it (OCF_RESKEY_*), logging debug to stderr."""
    env = {
        "OCF_ROOT": "/usr/lib/ocf",
        "OCF_RESOURCE_INSTANCE": "fpool-test",
        "OCF_RESKEY_CRM_meta_timeout": "240000",
        "OCF_RESKEY_pool": POOL,
        "OCF_RESKEY_device_dirs": LEG_DIR,
        "OCF_RESKEY_force_import": "true",
        "HA_LOGFACILITY": "none",
        "HA_debug": "1",
        **{f"OCF_RESKEY_{key}": value for key, value in params.items()},
    }
    result = guest.exec(["env", *(f"{k}={v}" for k, v in env.items()), AGENT, action], timeout=300)
    print(result.stderr)
    return result


def start(guest: Guest, **params: str) -> ExecResult:
    return run_agent(guest, "start", **params)


def exit_reason(result: ExecResult) -> str:
    reasons = [line for line in result.stderr.splitlines() if line.startswith("ocf-exit-reason:")]
    return reasons[-1] if reasons else ""


def imports_run(result: ExecResult) -> list[str]:
    """The zpool import command lines the start ran (zfsha.run's debug line as each one ends)."""
    return [line for line in result.stderr.splitlines() if "run: zpool import" in line and " exited " in line]


def test_a_live_holder_of_a_multihost_off_pool_is_never_forced(pair: Lab, capture_dir: Path) -> None:
    node_a, node_b = pair["storage-a"], pair["storage-b"]
    for guest in (node_a, node_b):
        disk = storage.local_disk(f"{guest.name}-d0")
        guest.sh(f"printf 'label: gpt\\n,,\\n' | sfdisk -q {disk} && sfdisk -q --part-label {disk} 1 {guest.name}-d0")
        guest.exec(["udevadm", "settle"], timeout=60)
        storage.wait_for_path(guest, partlabel(guest.name))
    portal = pair.storage_address("storage-a")
    # Shared (fileio), as seed 004 exports: storage-a's own ZFS must be able to read the leg it serves.
    iqn = storage.export_disks(node_a, [storage.local_disk("storage-a-d0")], portal, shared=True)
    storage.login(node_b, portal, iqn, replacement_timeout=5)
    remote_leg = storage.lun_path(portal, iqn, 0) + "-part1"
    storage.wait_for_path(node_b, remote_leg)
    node_b.exec(
        ["zpool", "create", "-o", "multihost=off", "-o", "cachefile=none", POOL, "mirror", partlabel("storage-b"), remote_leg],
        timeout=180,
        check=True,
    )
    node_b.sh(f"head -c 4194304 /dev/urandom > /{POOL}/data && zpool sync {POOL}", timeout=120)

    # storage-a sees the leg storage-b writes to (its own disk, behind the LIO target) under its partlabel.
    capture(capture_dir, "zdb_l_u.multihost_off_live", node_a, ["zdb", "-l", "-u", partlabel("storage-a")])
    capture(capture_dir, "blkid_p_o_export", node_a, ["blkid", "-p", "-o", "export", partlabel("storage-a"), "/dev/vda"])
    # Both opt-outs given: still no -f, because nothing would stop it importing a pool storage-b writes to.
    result = start(node_a, require_multihost="false")
    assert result.rc == 1, result
    assert "multihost=off" in exit_reason(result) and "not forced" in exit_reason(result), result.stderr
    assert "storage-b" in exit_reason(result)
    assert [line for line in imports_run(result) if " -f " in line] == []
    assert storage.pool_health(node_a, POOL) == ""
    assert storage.pool_health(node_b, POOL) == "ONLINE"


def test_a_live_multihost_holder_is_refused_by_the_activity_check_even_with_force(pair: Lab, capture_dir: Path) -> None:
    node_a, node_b = pair["storage-a"], pair["storage-b"]
    assert storage.pool_health(node_b, POOL) == "ONLINE", "needs the previous test"
    node_b.exec(["zpool", "set", "multihost=on", POOL], check=True)
    node_b.exec(["zpool", "sync", POOL], timeout=120, check=True)
    time.sleep(3)  # a few multihost writes (zfs_multihost_interval 1 s) land in the uberblock ring
    capture(capture_dir, "zdb_l_u.multihost_on_live", node_a, ["zdb", "-l", "-u", partlabel("storage-a")])
    result = start(node_a)
    assert result.rc == 1, result
    assert "in use on storage-b" in exit_reason(result) and "split-brain" in exit_reason(result), result.stderr
    # The labels showed multihost on, so the one import run was the forced one, and the check refused it.
    assert [" -f " in line for line in imports_run(result)] == [True], result.stderr
    assert storage.pool_health(node_a, POOL) == ""
    assert storage.pool_health(node_b, POOL) == "ONLINE"


def test_a_crashed_multihost_holder_is_taken_over_with_one_forced_import(pair: Lab, capture_dir: Path) -> None:
    node_a, node_b = pair["storage-a"], pair["storage-b"]
    assert storage.pool_health(node_b, POOL) == "ONLINE", "needs the previous tests"
    checksum = node_b.exec(["sha256sum", f"/{POOL}/data"], check=True).stdout.split()[0]
    node_b.kill()
    capture(capture_dir, "zdb_l_u.multihost_on_crashed", node_a, ["zdb", "-l", "-u", partlabel("storage-a")])
    started = time.monotonic()
    result = start(node_a)
    print(f"takeover start: rc {result.rc} after {time.monotonic() - started:.1f} s")
    assert result.rc == 0, result
    # -f at once (one activity check), not a refused plain import first.
    assert [" -f " in line for line in imports_run(result)] == [True], result.stderr
    assert storage.pool_health(node_a, POOL) == "DEGRADED"
    assert node_a.exec(["sha256sum", f"/{POOL}/data"], check=True).stdout.split()[0] == checksum


def test_the_taken_over_pool_reports_degraded_with_the_lost_leg(pair: Lab) -> None:
    node_a = pair["storage-a"]
    assert storage.pool_health(node_a, POOL) == "DEGRADED", "needs the takeover"
    result = run_agent(node_a, "monitor")
    assert result.rc == 190, result
    assert "storage-b-d0" in exit_reason(result) and "1/2 legs" in exit_reason(result), exit_reason(result)


def test_a_suspended_pool_is_an_error_and_its_stop_fails_at_once(pair: Lab) -> None:
    """The last leg is hot-removed (its PCI function, from inside the guest): I/O fails, the multihost
    writes fail, and ZFS suspends the pool. Nothing can export it now; Pacemaker must fence."""
    node_a = pair["storage-a"]
    assert storage.pool_health(node_a, POOL) == "DEGRADED", "needs the takeover"
    disk = node_a.exec(["readlink", "-f", storage.local_disk("storage-a-d0")], check=True).stdout.strip()
    function = node_a.exec(["readlink", "-f", f"/sys/class/block/{disk.rsplit('/', 1)[-1]}/device/.."], check=True)
    node_a.exec(["sh", "-c", f"echo 1 > {function.stdout.strip()}/remove"], check=True)
    node_a.exec(["sh", "-c", f"(dd if=/dev/urandom of=/{POOL}/after bs=64k count=16 conv=fsync &) >/dev/null 2>&1"])
    deadline = time.monotonic() + 120
    while storage.pool_health(node_a, POOL) != "SUSPENDED":
        assert time.monotonic() < deadline, f"pool {storage.pool_health(node_a, POOL)} 120 s after its last leg went"
        time.sleep(2)
    monitor = run_agent(node_a, "monitor")
    assert monitor.rc == 1, monitor
    assert "SUSPENDED" in exit_reason(monitor), exit_reason(monitor)
    started = time.monotonic()
    stop = run_agent(node_a, "stop", CRM_meta_timeout="90000")
    print(f"stop of the suspended pool: rc {stop.rc} after {time.monotonic() - started:.1f} s")
    assert stop.rc == 1, stop
    assert "SUSPENDED" in exit_reason(stop) and "fence" in exit_reason(stop), exit_reason(stop)
    assert "run: zpool export" not in stop.stderr  # never an export that would hang in the kernel
    assert storage.pool_health(node_a, POOL) == "SUSPENDED"
