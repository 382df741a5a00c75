"""Which operating system's tools answer the agent's questions: Linux or FreeBSD.

The decisions (when to log in, how long to wait, whether a pool may be imported) live in the agent and
the library; a Platform only answers small questions the same way on both systems: the hostid ZFS
uses, the multihost tunables, the pool's lock-free state, the iSCSI initiator, where devices appear,
which device caches must be dropped after an export.

Every host file the library reads goes through zfsha.paths.host_path() (a simulated root in tests).
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from zfsha.paths import RUN_DIR, host_path

if TYPE_CHECKING:
    from zfsha.iscsi import Initiator

PLATFORM_VARIABLE = "ZFSHA_PLATFORM"
# Bound of one page-cache flush (it writes back dirty pages first; after an export there are none).
FLUSH_SECONDS = 10.0
_ISCSI_BY_PATH = re.compile(r"-iscsi-.+-lun-\d+")
_ISCSI_SESSION = re.compile(r"/session\d+/")


def run_dir() -> Path:
    """Where agents keep small facts between runs (cleared at boot, like transient attributes)."""
    directory = Path(host_path(RUN_DIR))
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


@dataclass(frozen=True)
class MultihostTunables:
    interval_ms: int
    import_intervals: int
    fail_intervals: int | None = None

    @property
    def activity_check_seconds(self) -> float:
        """The floor of ZFS's import activity check (zfs(4): interval x import intervals)."""
        return self.interval_ms * self.import_intervals / 1000.0


class Platform:
    name = ""
    default_device_dirs: tuple[str, ...] = ()

    def initiator(self) -> Initiator:
        raise NotImplementedError

    def hostid(self) -> int:
        """The hostid ZFS writes into labels and multihost uberblocks; 0 when unset."""
        raise NotImplementedError

    def multihost_tunables(self) -> MultihostTunables | None:
        raise NotImplementedError

    def pool_state(self, pool: str) -> str | None:
        """Lock-free health word, "" when not imported, None when this platform cannot tell."""
        raise NotImplementedError

    def zfs_module_version(self) -> tuple[int, int] | None:
        """(major, minor) of the loaded ZFS, when it can be read without starting a process."""
        return None

    def page_cached_devices(self, leaf_paths: Sequence[str]) -> list[str]:
        """The block devices (/dev paths) whose page cache can hold stale copies of these pool leaves
        once the pool is exported, so that a peer reading them through this node's iSCSI target would
        see old labels; [] when there is nothing to flush."""
        raise NotImplementedError

    def flush_page_cache(self, device: str) -> None:
        """Drop a block device's page cache (only called for page_cached_devices' answers)."""
        raise NotImplementedError

    def label_devices(self, pool: str, device_dirs: Sequence[str]) -> list[str]:
        """The devices in these directories that may carry the labels of `pool` (a superset is
        fine: zdb tells), each read fresh from the disk rather than from a stale cache."""
        raise NotImplementedError


def device_candidates(device_dirs: Sequence[str]) -> list[str]:
    """Every device reached from these directories, once each (by-id holds several names for one
    disk), as the first name found for it; missing directories are skipped."""
    seen: dict[str, str] = {}
    for directory in device_dirs:
        try:
            names = sorted(os.listdir(host_path(directory)))
        except OSError:
            continue
        for name in names:
            path = f"{directory.rstrip('/')}/{name}"
            real = os.path.realpath(host_path(path))
            if real not in seen and os.path.exists(real) and not os.path.isdir(real):
                seen[real] = path
    return list(seen.values())


def is_block_device(path: str) -> bool:
    try:
        return stat.S_ISBLK(os.stat(host_path(path)).st_mode)
    except OSError:
        return False


def zfs_members(blkid_export: str, pool: str) -> list[str]:
    """The devices `blkid -p -o export` found carrying a ZFS label of `pool` (blkid reports the
    pool's name as LABEL of a zfs_member)."""
    devices: list[dict[str, str]] = []
    for line in blkid_export.splitlines():
        key, _, value = line.partition("=")
        if key == "DEVNAME":  # each device's tags start with its name
            devices.append({})
        if devices and value:
            devices[-1][key] = value
    return [tags["DEVNAME"] for tags in devices if tags.get("TYPE") == "zfs_member" and tags.get("LABEL") == pool]


class Linux(Platform):
    name = "linux"
    # zpool import names each leg by the first directory that holds it, and the leg keeps that name
    # wherever the pool goes next. Partition labels and ids name the same disk on every node; a local
    # disk's by-path name (pci-0000:00:05.0) names a different disk on each node, so it comes last
    # (seen in the lab: after a failover a leg named by-path pointed at the new holder's own disk and
    # could never be brought back). iSCSI LUNs have by-id names (wwn-) as stable as their by-path ones.
    default_device_dirs = ("/dev/disk/by-partlabel", "/dev/disk/by-id", "/dev/disk/by-path")
    ZFS_PARAMETERS = "/sys/module/zfs/parameters"

    def initiator(self) -> Initiator:
        from zfsha.iscsi.openiscsi import OpenIscsi

        return OpenIscsi()

    def hostid(self) -> int:
        # The spl module parameter wins; otherwise ZFS reads /etc/hostid (4 bytes, host byte order),
        # which zgenhostid(8) writes. coreutils' hostid(1) is no help: glibc invents one from the IP.
        try:
            value = int(Path(host_path("/sys/module/spl/parameters/spl_hostid")).read_text().strip(), 0)
            if value:
                return value
        except (OSError, ValueError):
            pass
        try:
            raw = Path(host_path("/etc/hostid")).read_bytes()
        except OSError:
            return 0
        return int.from_bytes(raw[:4], sys.byteorder) if len(raw) >= 4 else 0

    def multihost_tunables(self) -> MultihostTunables | None:
        def read(name: str) -> int | None:
            try:
                return int(Path(host_path(f"{self.ZFS_PARAMETERS}/{name}")).read_text().strip())
            except (OSError, ValueError):
                return None

        interval, intervals = read("zfs_multihost_interval"), read("zfs_multihost_import_intervals")
        if interval is None or intervals is None:
            return None
        return MultihostTunables(interval, intervals, read("zfs_multihost_fail_intervals"))

    def zfs_module_version(self) -> tuple[int, int] | None:
        """(major, minor) of the loaded zfs module, read from sysfs (no process); None if unknown."""
        try:
            text = Path(host_path("/sys/module/zfs/version")).read_text().strip()
            major, minor = text.split("-")[0].split(".")[:2]
            return int(major), int(minor)
        except (OSError, ValueError):
            return None

    def pool_state(self, pool: str) -> str | None:
        from zfsha.zpool.kstat import read_state

        return read_state(pool)

    # LIO's fileio backstore (the one that lets this node use a disk in its own pool while exporting
    # it: iblock opens it O_EXCL) serves the peer through this node's page cache. ZFS's own writes
    # bypass that cache (it submits bios), while udev and blkid reads fill it, so after an export the
    # peer importing over iSCSI could read stale labels. The pool's leaf is a partition (vdb1) and the
    # target exports the whole disk (vdb): the two have separate caches, so both are flushed.
    SYS_BLOCK = "/sys/class/block"

    def page_cached_devices(self, leaf_paths: Sequence[str]) -> list[str]:
        devices: list[str] = []
        for path in leaf_paths:
            if _ISCSI_BY_PATH.search(path):
                continue  # a peer's LUN: its page cache is the peer's business, and its session may be gone
            name = os.path.basename(os.path.realpath(host_path(path)))
            if not os.path.exists(host_path(f"{self.SYS_BLOCK}/{name}")) or self.over_iscsi(name):
                continue  # a missing device, a file vdev, or an iSCSI disk named by id
            for device in (name, self.parent_disk(name)):
                if device and f"/dev/{device}" not in devices:
                    devices.append(f"/dev/{device}")
        return devices

    def parent_disk(self, name: str) -> str | None:
        """The whole disk a partition lies on (vdb for vdb1, nvme0n1 for nvme0n1p1); None for a disk."""
        entry = host_path(f"{self.SYS_BLOCK}/{name}")
        if not os.path.exists(f"{entry}/partition"):
            return None
        # sysfs nests a partition's directory in its disk's: /sys/class/block/vdb1 -> .../block/vdb/vdb1
        parent = os.path.basename(os.path.realpath(f"{entry}/.."))
        return parent if os.path.exists(host_path(f"{self.SYS_BLOCK}/{parent}")) else None

    def over_iscsi(self, name: str) -> bool:
        """Whether the block device hangs below an iSCSI session in sysfs (.../session3/target...)."""
        return _ISCSI_SESSION.search(os.path.realpath(host_path(f"{self.SYS_BLOCK}/{name}"))) is not None

    def flush_page_cache(self, device: str) -> None:
        from zfsha import run

        run.run(["blockdev", "--flushbufs", device], timeout=FLUSH_SECONDS)

    def label_devices(self, pool: str, device_dirs: Sequence[str]) -> list[str]:
        # blkid and zdb read through the page cache, which can hold labels older than the disk's
        # (an iSCSI LUN read at login, before the peer wrote on; a local disk a peer wrote through
        # LIO fileio): drop it first. One blockdev and one blkid process for every candidate.
        import logging

        from zfsha import run
        from zfsha.errors import CommandError

        log = logging.getLogger("zfsha.platform")
        candidates = device_candidates(device_dirs)
        if not candidates:
            return []
        block = [path for path in candidates if is_block_device(path)]
        # blockdev stops at the first device it cannot open (a LUN whose session just died): then each alone.
        if block and run.run(["blockdev", "--flushbufs", *block], check=False, timeout=FLUSH_SECONDS).returncode != 0:
            for device in block:
                try:
                    self.flush_page_cache(device)
                except CommandError as err:
                    log.warning("could not drop the page cache of %s before reading its label: %s", device, err.reason)
        probed = run.run(["blkid", "-p", "-o", "export", *candidates], check=False, timeout=FLUSH_SECONDS)
        return zfs_members(probed.stdout, pool)


class FreeBSD(Platform):
    name = "freebsd"
    # GPT and glabel labels; iSCSI LUNs show up as da(4) disks, labelled by the peer's partitions.
    default_device_dirs = ("/dev/gpt", "/dev/label", "/dev/diskid")

    def initiator(self) -> Initiator:
        from zfsha.iscsi.iscsictl import Iscsictl

        return Iscsictl()

    def _sysctl(self, name: str) -> str | None:
        from zfsha import run

        result = run.run(["sysctl", "-n", name], check=False, timeout=5)
        return result.stdout.strip() if result.returncode == 0 else None

    def hostid(self) -> int:
        value = self._sysctl("kern.hostid")
        try:
            return int(value or "0", 0)
        except ValueError:
            return 0

    def multihost_tunables(self) -> MultihostTunables | None:
        interval = self._sysctl("vfs.zfs.multihost.interval")
        intervals = self._sysctl("vfs.zfs.multihost.import_intervals")
        fail = self._sysctl("vfs.zfs.multihost.fail_intervals")
        try:
            return MultihostTunables(int(interval or ""), int(intervals or ""), int(fail) if fail else None)
        except ValueError:
            return None

    def page_cached_devices(self, leaf_paths: Sequence[str]) -> list[str]:
        # Nothing to flush: GEOM disk devices have no page cache in front of them, and ctld serves the
        # disk itself, so a peer always reads what ZFS wrote.
        return []

    def label_devices(self, pool: str, device_dirs: Sequence[str]) -> list[str]:
        # No page cache in front of GEOM disks, and no blkid: zdb reads every candidate.
        return device_candidates(device_dirs)

    def pool_state(self, pool: str) -> str | None:
        # FreeBSD's OpenZFS publishes the same word as a sysctl kstat (no zpool lock either).
        from zfsha import run

        result = run.run(["sysctl", "-n", f"kstat.zfs.{pool}.misc.state"], check=False, timeout=5)
        if result.returncode == 0:
            return result.stdout.strip()
        return "" if "unknown oid" in result.stderr else None


def current() -> Platform:
    chosen = os.environ.get(PLATFORM_VARIABLE) or ("freebsd" if sys.platform.startswith("freebsd") else "linux")
    return FreeBSD() if chosen == "freebsd" else Linux()
