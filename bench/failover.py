#!/usr/bin/python3
"""Failover times of seed 004 in the VM lab: ocf:zfsha:zfs-iscsi-pool beside ocf:heartbeat:ZFS, one lab run.

One three-guest cluster (lab.vm.cluster.SanCluster: the README's pcs block, real ZFS/LIO/open-iscsi,
real power fencing) is brought up once. For each pool agent it prints:
- planned: `pcs node standby <active>` -> the client reads its data through the hypervisor VIP from
  the peer;
- unplanned: the active node's power is cut at its plug/BMC -> the client reads again (the survivor
  fenced it, imported DEGRADED and restarted the LUN export);
then the old node is rejoined and resilvered before the next measurement. Last, the multihost
activity-check floor is measured on the same pool: with the cluster in maintenance mode the holder
is killed and a bare `zpool import` listing on the survivor times ZFS's own check, the least any
takeover can take. Times under qemu TCG are far slower than hardware: compare the ratios.

    /usr/bin/python3 bench/failover.py        (root; builds or reuses the guest image and the .deb)

Takes about 45 minutes on 2 cores (estimate). Prints numbers; a move that does not finish is
reported with the cluster's failed actions and each storage node's log lines for the resource.
Numbers of past runs: bench/README.md.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "lib")]

from lab.vm import storage  # noqa: E402
from lab.vm.cluster import POOL, SanCluster, local_leg  # noqa: E402
from lab.vm.image import ensure_image  # noqa: E402
from lab.vm.lab import Lab, package_under_test  # noqa: E402

HEARTBEAT_POOL = "hb-pool"
CLIENT_MIB = 4


def other(name: str) -> str:
    return "storage-b" if name == "storage-a" else "storage-a"


SERVICES = ("vip-enduser", "vip-hypervisor", "client-luns")


def where_time_went(cluster: SanCluster, pool_resource: str, via: str) -> None:
    """Each node's last start and stop of the pool and the services (crm_mon's operation history; the
    time is when the operation began), and what the new holder's pool looks like."""
    for line in cluster.action_times((pool_resource, *SERVICES), via=via):
        print(f"    {line}")
    holder = cluster.where(pool_resource, via=via)[0]
    status = cluster[holder].exec(["zpool", "status", "-P", POOL]).stdout
    legs = [" ".join(words[:2]) for words in map(str.split, status.splitlines()) if len(words) > 1 and "/" in words[0]]
    print(f"    {holder}: {storage.pool_health(cluster[holder], POOL)}, legs {'; '.join(legs)}")
    history = cluster[holder].exec(["sh", "-c", f"zpool history {POOL} | grep 'zpool import' | tail -n 1"]).stdout
    print(f"    {holder}'s last import: {history.strip()}")


def planned(cluster: SanCluster, pool_resource: str, path: str, data: str) -> float:
    active = cluster.where(pool_resource)[0]
    print(f"  planned: pcs node standby {active}, the pool moves to {other(active)}", flush=True)
    started = time.monotonic()
    cluster.pcs(["pcs", "node", "standby", active])
    cluster.wait_started("client-luns", on=other(active), timeout=600)
    if cluster.client_read(path, CLIENT_MIB, 0, timeout=600) != data:
        print(f"  planned: the client read different data after the move to {other(active)}")
    seconds = time.monotonic() - started
    where_time_went(cluster, pool_resource, "quorum")
    cluster.pcs(["pcs", "node", "unstandby", active])
    return seconds


def unplanned(cluster: SanCluster, pool_resource: str, path: str, data: str) -> float:
    active = cluster.where(pool_resource)[0]
    survivor = other(active)
    print(f"  unplanned: {active}'s power cut, {survivor} takes over", flush=True)
    started = time.monotonic()
    cluster.cut_power(active)
    cluster.wait_started("client-luns", on=survivor, timeout=900, via=survivor)
    if cluster.client_read(path, CLIENT_MIB, 0, timeout=900) != data:
        print(f"  unplanned: the client read different data after the takeover by {survivor}")
    seconds = time.monotonic() - started
    where_time_went(cluster, pool_resource, "quorum")
    return seconds


def bring_legs_back(cluster: SanCluster, name: str, timeout: float = 600) -> bool:
    """What heartbeat:ZFS never does and an admin must after a failover: name the returned peer's LUN
    again, online the legs that are out, and wait for the resilver. True once the pool is ONLINE with
    no resilver running (every leg then carries the holder's current labels)."""
    guest = cluster[name]
    guest.exec(["sh", "-c", "udevadm trigger --action=change --subsystem-match=block && udevadm settle --timeout=60"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = guest.exec(["zpool", "status", "-P", POOL]).stdout
        out = []
        for words in map(str.split, status.splitlines()):
            if len(words) > 1 and words[1] in ("UNAVAIL", "FAULTED", "OFFLINE", "REMOVED"):
                # A leg whose device vanished is shown by its guid, "was <path>" at the end.
                out.append(words[-1] if "was" in words else words[0])
        for leg in out:
            guest.exec(["zpool", "online", POOL, leg])
        if not out and storage.pool_health(guest, POOL) == "ONLINE" and "resilver in progress" not in status:
            guest.exec(["zpool", "sync", POOL])
            return True
        time.sleep(5)
    print(f"  floor: the legs on {name} did not all come back:\n{status}")
    return False


def swap_to_heartbeat(cluster: SanCluster) -> None:
    """Replace zfs-pool by ocf:heartbeat:ZFS on the same pool, with the README's constraints.

    san-services is held stopped meanwhile: deleting zfs-pool deletes its order and colocation, and
    the group then started on its own, with no pool imported; client-luns' failed start there banned
    it from that node, and heartbeat's planned move to it could never finish (run of 2026-12-03).
    """
    cluster.pcs(["pcs", "resource", "disable", "san-services", "--wait=600"], timeout=660)
    cluster.pcs(["pcs", "resource", "disable", "zfs-pool", "--wait=600"], timeout=660)
    cluster.pcs(["pcs", "resource", "delete", "zfs-pool", "--force"])
    dirs = f"-d /dev/disk/by-partlabel -d {Path(cluster.peer_leg('storage-a')).parent}"
    cluster.pcs(
        ["pcs", "resource", "create", HEARTBEAT_POOL, "ocf:heartbeat:ZFS", f"pool={POOL}", f"importargs={dirs}",
         "--disabled", "op", "start", "timeout=150s", "op", "stop", "timeout=90s",
         "op", "monitor", "interval=10s", "timeout=30s"]
    )  # fmt: skip
    cluster.pcs(["pcs", "constraint", "order", HEARTBEAT_POOL, "then", "san-services"])
    cluster.pcs(["pcs", "constraint", "colocation", "add", "san-services", "with", HEARTBEAT_POOL, "INFINITY"])
    cluster.pcs(["pcs", "constraint", "location", HEARTBEAT_POOL, "avoids", "quorum"])
    cluster.pcs(["pcs", "resource", "enable", HEARTBEAT_POOL])
    cluster.pcs(["pcs", "resource", "enable", "san-services"])
    cluster.wait_started("client-luns", timeout=600)


def activity_check_floor(cluster: SanCluster, pool_resource: str) -> tuple[float, float]:
    """(tunables' floor, measured bare `zpool import` listing) after the holder dies, in seconds."""
    holder = cluster.where(pool_resource)[0]
    survivor = cluster[other(holder)]
    # The survivor's own leg must hold the holder's labels (ACTIVE, the holder's hostid): a leg left
    # out since an earlier failover still says the survivor held it last, and ZFS skips the check.
    bring_legs_back(cluster, holder)
    interval = int(survivor.exec(["cat", "/sys/module/zfs/parameters/zfs_multihost_interval"], check=True).stdout)
    intervals = int(survivor.exec(["cat", "/sys/module/zfs/parameters/zfs_multihost_import_intervals"], check=True).stdout)
    cluster.pcs(["pcs", "property", "set", "maintenance-mode=true"])
    cluster[holder].kill()
    dirs = ["-d", str(Path(local_leg(other(holder))).parent), "-d", str(Path(cluster.peer_leg(holder)).parent)]
    started = time.monotonic()
    listing = survivor.exec(["zpool", "import", *dirs], timeout=600)
    measured = time.monotonic() - started
    if POOL not in listing.stdout:
        print(f"  floor: the listing did not show {POOL}: {listing.stdout}{listing.stderr}")
    if measured < interval * intervals / 2000:
        print(f"  floor: the listing took {measured:.1f} s, under half the tunables' floor: no activity check ran")
    return interval * intervals / 1000, measured


def main() -> None:
    os.environ.setdefault("LAB_VM_CACHE", "/var/cache/zfsha/lab-vm")
    lab = Lab(ensure_image(), data_disks=1, disk_mib=256, bridge_nic=True)
    cluster = SanCluster(lab)
    try:
        cluster.bring_up(package_under_test())
        cluster.wait_started("client-luns", timeout=600)
        path = cluster.client_login()
        data = cluster.client_write(path, CLIENT_MIB, 0)
        results: dict[str, dict[str, float]] = {}
        for agent, resource in (("ocf:zfsha:zfs-iscsi-pool", "zfs-pool"), ("ocf:heartbeat:ZFS", HEARTBEAT_POOL)):
            if resource == HEARTBEAT_POOL:
                swap_to_heartbeat(cluster)
            if resource == HEARTBEAT_POOL:
                cluster.flush_backend_cache(cluster.where(resource)[0])  # our agent's stop does this itself
            try:
                results[agent] = {"planned": planned(cluster, resource, path, data)}
                results[agent]["unplanned"] = unplanned(cluster, resource, path, data)
            except TimeoutError as err:
                # A bench prints what it saw: why the move did not finish, from the cluster's own words.
                print(f"{agent}: {err}")
                print("  failed actions:", cluster.failures(via="quorum"))
                for name in ("storage-a", "storage-b"):
                    grep = f"grep -h '{resource}' /var/log/pacemaker/pacemaker.log | tail -n 15"
                    lines = cluster[name].exec(["sh", "-c", grep])
                    print(f"  {name} pacemaker.log:\n{lines.stdout}")
                raise
            print(agent, {name: round(value, 1) for name, value in results[agent].items()}, flush=True)
            # The fenced node comes back; our agent brings its leg back and it resilvers (heartbeat:ZFS
            # would leave it faulted, which only the floor measurement after it would not mind).
            fenced = other(cluster.where(resource)[0])
            cluster.rejoin(fenced)
            if resource == "zfs-pool":
                cluster.wait_resilvered(other(fenced), timeout=900)
        floor, measured = activity_check_floor(cluster, HEARTBEAT_POOL)
        print(f"multihost activity check: tunables {floor:.1f} s, measured bare zpool import listing {measured:.1f} s")
        ours, theirs = results["ocf:zfsha:zfs-iscsi-pool"], results["ocf:heartbeat:ZFS"]
        for kind in ("planned", "unplanned"):
            print(
                f"{kind:9} zfs-iscsi-pool {ours[kind]:6.1f} s  heartbeat:ZFS {theirs[kind]:6.1f} s  "
                f"ratio {ours[kind] / theirs[kind]:.2f}  vs floor {ours[kind] / measured:.1f}x"
            )
    finally:
        cluster.stop()
        lab.remove()


if __name__ == "__main__":
    main()
