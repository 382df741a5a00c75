"""The simulated storage world behind tests/sim/bin: pools, disks, iSCSI targets, sessions, hosts.

One JSON file in $ZFSHA_SIM_STATE holds it, shared by every simulated host (each host is its
hostname, or $ZFSHA_SIM_HOST), so two namespace nodes see the same pool and multihost refuses the
second import naming the first. Each host also gets a root directory (<state>/root/<host>) with what
the agent reads as files: the kstat state file, /etc/hostid, the zfs module parameters, device nodes
and iscsiadm node records; the agent finds it through ZFSHA_SYSROOT=<state>/root/{hostname}.

Tests build worlds with the functions below; the simulated tools change them as the real ones would.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STATE_VARIABLE = "ZFSHA_SIM_STATE"
BIN = Path(__file__).resolve().parent / "bin"
BY_PATH = "/dev/disk/by-path"
BY_PARTLABEL = "/dev/disk/by-partlabel"
KSTAT = "/proc/spl/kstat/zfs"
SYS_BLOCK = "/sys/class/block"
SYS_DISKS = "/sys/devices/virtual/block"
NODES = "/etc/iscsi/nodes"
ANY_HOST = "*"
PART = "-part1"


def state_dir() -> Path:
    return Path(os.environ[STATE_VARIABLE])


def this_host() -> str:
    return os.environ.get("ZFSHA_SIM_HOST") or socket.gethostname()


def host_root(host: str, state: Path | None = None) -> Path:
    return (state or state_dir()) / "root" / host


def sysroot(state: Path) -> str:
    """The ZFSHA_SYSROOT value that points the agent at the simulated hosts' files."""
    return str(state / "root" / "{hostname}")


def hostid_of(name: str) -> int:
    return zlib.crc32(name.encode()) or 1


def empty() -> dict[str, Any]:
    return {
        "zfs_version": "2.1.11",  # Debian 12; "2.3.1" adds zpool status -j
        "hosts": {},
        "targets": {},
        "sessions": {},
        "pools": {},
        "hang": {},  # "zpool export": seconds, "zpool status": ..., "iscsiadm login": ...
        "activity_check_seconds": 0.2,  # stands in for interval x import_intervals
        "tunables": {"zfs_multihost_interval": 1000, "zfs_multihost_import_intervals": 20, "zfs_multihost_fail_intervals": 10},
        "resilver_step": 50.0,
        # Real ZFS: `zpool online` returns and status reads ONLINE with no scan line before the resilver
        # starts (tests/unit/data/zpool/zpool_status.onlined_before_resilver.txt). This many status reads
        # after an online show that window; then each read advances the resilver by resilver_step percent.
        "resilver_pending_reads": 1,
        "replacement_timeout": 5,
        "unusable_disks": [],  # disks whose device returns but stays faulted after `zpool online` (exit 0)
        # host: target keys whose returned LUNs' partitions udev has not named (a change event handled
        # while the session was down removes the names; `udevadm trigger` of the partition brings them back)
        "unnamed": {},
        "flushed": {},  # host: block devices blockdev --flushbufs was run on, in order
        "flush_fails": [],  # devices whose flush fails (as BLKFLSBUF does without CAP_SYS_ADMIN)
    }


@contextmanager
def world(state: Path | None = None) -> Iterator[dict[str, Any]]:
    """Lock the world, hand it out to change, then write it and refresh every host's files."""
    directory = state or state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "world.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = directory / "world.json"
        data = json.loads(path.read_text()) if path.exists() else empty()
        yield data
        refresh(data, directory)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=1))
        os.replace(temporary, path)


def read(state: Path | None = None) -> dict[str, Any]:
    path = (state or state_dir()) / "world.json"
    return json.loads(path.read_text()) if path.exists() else empty()


# ---- building worlds (tests) ---------------------------------------------------------------------


def add_host(data: dict[str, Any], name: str, *, hostid: int | None = None) -> None:
    data["hosts"][name] = {"hostid": hostid_of(name) if hostid is None else hostid, "alive": True}


def add_target(data: dict[str, Any], iqn: str, portal: str, *, owner: str, luns: int, chap: tuple[str, str] | None = None) -> str:
    key = f"{iqn}@{portal}"
    data["targets"][key] = {
        "iqn": iqn,
        "portal": portal,
        "owner": owner,
        "luns": luns,
        "up": True,
        "chap": list(chap) if chap else None,
    }
    return key


def add_mirror_pool(
    data: dict[str, Any], name: str, *, local_host: str, peer_target: str, mirrors: int, multihost: str = "on"
) -> None:
    """A pool of `mirrors` two-way mirrors: a disk of local_host paired with LUN n of peer_target."""
    owner = data["targets"][peer_target]["owner"]
    vdevs = []
    for index in range(mirrors):
        vdevs.append(
            [
                {
                    "disk": f"data-{local_host if local_host != ANY_HOST else 'local'}-{index}",
                    "owner": local_host,
                    "target": None,
                    "lun": None,
                },
                {"disk": f"data-{owner}-{index}", "owner": owner, "target": peer_target, "lun": index},
            ]
        )
    data["pools"][name] = {
        "guid": zlib.crc32(name.encode()) * 7919,
        "multihost": multihost,
        "holder": None,
        "exported": True,
        "last_host": local_host,
        "last_hostid": data["hosts"].get(local_host, {}).get("hostid", hostid_of(local_host)),
        "suspended": False,
        "busy": False,
        "vdevs": vdevs,
        "faulted": [],  # disks that went missing while imported: stay faulted until online/clear
        "resilver": None,
        "datasets": [
            {"name": name, "mountpoint": f"/{name}", "canmount": "on"},
            {"name": f"{name}/nfs", "mountpoint": f"/{name}/nfs", "canmount": "on"},
        ],
        "mounted": [],
    }


# ---- what each host sees -------------------------------------------------------------------------


def host_alive(data: dict[str, Any], host: str) -> bool:
    return data["hosts"].get(host, {}).get("alive", True)


def session_up(data: dict[str, Any], host: str, target_key: str) -> bool:
    target = data["targets"].get(target_key)
    return bool(target and target["up"] and target_key in data["sessions"].get(host, []))


def local(leg: dict[str, Any], host: str) -> bool:
    # Owner "*": a local disk of whichever node asks (single-node profiles whose node name varies).
    return leg["owner"] in (host, ANY_HOST)


def unnamed(data: dict[str, Any], host: str, leg: dict[str, Any]) -> bool:
    return bool(leg["target"]) and leg["target"] in data.get("unnamed", {}).get(host, [])


def lun_path(data: dict[str, Any], leg: dict[str, Any]) -> str:
    target = data["targets"][leg["target"]]
    return f"{BY_PATH}/ip-{target['portal']}-iscsi-{target['iqn']}-lun-{leg['lun']}"


def disk_path(data: dict[str, Any], host: str, leg: dict[str, Any]) -> str | None:
    """The device path of a disk as `host` sees it, or None when it cannot see it (or its partition
    has no name)."""
    if local(leg, host):
        return f"{BY_PARTLABEL}/{leg['disk']}"
    if leg["target"] and session_up(data, host, leg["target"]) and not unnamed(data, host, leg):
        return lun_path(data, leg)
    return None


def last_path(data: dict[str, Any], host: str, leg: dict[str, Any]) -> str:
    if local(leg, host):
        return f"{BY_PARTLABEL}/{leg['disk']}"
    target = data["targets"].get(leg["target"] or "", {"portal": "?", "iqn": "?"})
    return f"{BY_PATH}/ip-{target['portal']}-iscsi-{target['iqn']}-lun-{leg['lun']}"


def leg_at(data: dict[str, Any], host: str, device: str) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """(pool name, pool, leg) whose ZFS label `host` reads at `device` (a leg's -part1 node)."""
    for name, pool in data["pools"].items():
        for vdev in pool["vdevs"]:
            for leg in vdev:
                path = disk_path(data, host, leg)
                if path and device == path + PART:
                    return name, pool, leg
    return None


def leg_guid(pool: dict[str, Any], leg: dict[str, Any]) -> int:
    return zlib.crc32(leg["disk"].encode()) * 104729 + pool["guid"] % 1000


def leg_state(data: dict[str, Any], host: str, pool: dict[str, Any], leg: dict[str, Any]) -> str:
    if disk_path(data, host, leg) is None:
        return "UNAVAIL"
    if leg["disk"] in pool["faulted"]:
        return "UNAVAIL"
    return "ONLINE"


def mirror_state(states: list[str]) -> str:
    healthy = states.count("ONLINE")
    return "ONLINE" if healthy == len(states) else "DEGRADED" if healthy else "UNAVAIL"


def pool_health(data: dict[str, Any], host: str, pool: dict[str, Any]) -> str:
    if pool["suspended"]:
        return "SUSPENDED"
    mirrors = [mirror_state([leg_state(data, host, pool, leg) for leg in vdev]) for vdev in pool["vdevs"]]
    if "UNAVAIL" in mirrors:
        return "UNAVAIL"
    return "DEGRADED" if "DEGRADED" in mirrors else "ONLINE"


def add_disk(root: Path, path: str, kernel_name: str, *, partition_named: bool = True) -> None:
    """A disk as udev and sysfs show it: /dev/vdb and its partition /dev/vdb1, the stable name and
    its -part1 as relative links to them (the latter only when partition_named), and /sys/class/block
    entries whose partition lies in its disk's directory (what the agent's page-cache flush resolves)."""
    partition = f"{kernel_name}1"
    for device in (kernel_name, partition):
        (root / "dev" / device).touch()
    for link, device in ((path, kernel_name), (path + PART, partition)):
        if device == partition and not partition_named:
            continue
        (root / link.lstrip("/")).symlink_to(f"../../{device}")
    disk = root / SYS_DISKS.lstrip("/") / kernel_name
    (disk / partition).mkdir(parents=True)
    (disk / "dev").write_text("254:16\n")
    (disk / partition / "partition").write_text("1\n")
    (root / SYS_BLOCK.lstrip("/") / kernel_name).symlink_to(f"../../devices/virtual/block/{kernel_name}")
    (root / SYS_BLOCK.lstrip("/") / partition).symlink_to(f"../../devices/virtual/block/{kernel_name}/{partition}")


def refresh(data: dict[str, Any], state: Path) -> None:
    """Derive what follows from the world: sessions' devices, faulted legs, suspension, kstat files."""
    for name in data["hosts"]:
        root = host_root(name, state)
        (root / KSTAT.lstrip("/")).mkdir(parents=True, exist_ok=True)
        (root / "etc").mkdir(parents=True, exist_ok=True)
        (root / "etc/hostid").write_bytes(int(data["hosts"][name]["hostid"]).to_bytes(4, "little"))
        parameters = root / "sys/module/zfs/parameters"
        parameters.mkdir(parents=True, exist_ok=True)
        for tunable, value in data["tunables"].items():
            (parameters / tunable).write_text(f"{value}\n")
        (root / "sys/module/zfs/version").write_text(f"{data['zfs_version']}-1\n")  # as sysfs shows it
        for directory in (BY_PATH, BY_PARTLABEL, SYS_BLOCK, SYS_DISKS):
            shutil.rmtree(root / directory.lstrip("/"), ignore_errors=True)
            (root / directory.lstrip("/")).mkdir(parents=True, exist_ok=True)
        local_disks = lun_disks = 0
        for pool in data["pools"].values():
            for vdev in pool["vdevs"]:
                for leg in vdev:
                    path = disk_path(data, name, leg)
                    if path and local(leg, name):
                        add_disk(root, path, f"vd{chr(ord('b') + local_disks)}")
                        local_disks += 1
                    elif leg["target"] and session_up(data, name, leg["target"]):
                        # zpool create on a whole disk partitions it: legs are the -part1 nodes.
                        named = not unnamed(data, name, leg)
                        add_disk(root, lun_path(data, leg), f"sd{chr(ord('a') + lun_disks)}", partition_named=named)
                        lun_disks += 1
    for pool_name, pool in data["pools"].items():
        holder = pool["holder"]
        for host in data["hosts"]:
            kstat = host_root(host, state) / KSTAT.lstrip("/") / pool_name
            if host != holder:
                shutil.rmtree(kstat, ignore_errors=True)
        if holder is None:
            continue
        for vdev in pool["vdevs"]:
            for leg in vdev:
                if disk_path(data, holder, leg) is None and leg["disk"] not in pool["faulted"]:
                    pool["faulted"].append(leg["disk"])
        # failmode=wait: losing every leg of a mirror suspends the pool's I/O.
        if pool_health(data, holder, pool) == "UNAVAIL":
            pool["suspended"] = True
        kstat = host_root(holder, state) / KSTAT.lstrip("/") / pool_name
        kstat.mkdir(parents=True, exist_ok=True)
        (kstat / "state").write_text(pool_health(data, holder, pool) + "\n")


PEER_IQN = "iqn.2025-01.lab.home:storage-b"
PEER_PORTAL = "127.0.0.2:3260"


def standard_world(
    state: Path,
    *,
    host: str,
    also: tuple[str, ...] = (),
    pool: str = "tank",
    mirrors: int = 2,
    chap: tuple[str, str] | None = None,
    zfs_version: str = "2.1.11",
) -> str:
    """Seed 004 seen from one storage node: `mirrors` mirrors of a local disk and a peer LUN.
    Hosts in `also` are registered too; host "*" makes the local disks local to every host.
    Returns the peer target as IQN@PORTAL."""
    with world(state) as data:
        data["zfs_version"] = zfs_version
        for name in (host, *also):
            if name != ANY_HOST:
                add_host(data, name)
        target = add_target(data, PEER_IQN, PEER_PORTAL, owner="storage-b", luns=mirrors, chap=chap)
        add_mirror_pool(data, pool, local_host=host, peer_target=target, mirrors=mirrors)
    return target


def tool_path() -> str:
    return str(BIN)
