"""Linux answers read from files (through ZFSHA_SYSROOT): hostid, the kstat state word, and which
block devices hold a page cache to drop after an export."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from zfsha.platform import FreeBSD, Linux, current, device_candidates, zfs_members
from zfsha.zpool.kstat import NOT_IMPORTED, read_state


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ZFSHA_SYSROOT", str(tmp_path))
    return tmp_path


def test_hostid_comes_from_etc_hostid_in_host_byte_order(root: Path) -> None:
    assert Linux().hostid() == 0
    (root / "etc").mkdir()
    (root / "etc/hostid").write_bytes((0x57E7F46E).to_bytes(4, sys.byteorder))
    assert Linux().hostid() == 0x57E7F46E


def test_spl_hostid_module_parameter_wins(root: Path) -> None:
    parameters = root / "sys/module/spl/parameters"
    parameters.mkdir(parents=True)
    (parameters / "spl_hostid").write_text("0\n")
    assert Linux().hostid() == 0
    (parameters / "spl_hostid").write_text("1234\n")
    assert Linux().hostid() == 1234


def test_kstat_tells_not_imported_from_no_zfs_module(root: Path) -> None:
    assert read_state("tank") is None  # no kstat tree: ask zpool
    (root / "proc/spl/kstat/zfs").mkdir(parents=True)
    assert read_state("tank") == NOT_IMPORTED
    (root / "proc/spl/kstat/zfs/tank").mkdir()
    (root / "proc/spl/kstat/zfs/tank/state").write_text("SUSPENDED\n")
    assert read_state("tank") == "SUSPENDED"


def test_platform_is_chosen_by_os_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZFSHA_PLATFORM", raising=False)
    assert current().name == ("freebsd" if sys.platform.startswith("freebsd") else "linux")
    monkeypatch.setenv("ZFSHA_PLATFORM", "freebsd")
    assert current().name == "freebsd"


def sysfs_entry(root: Path, name: str, device_dir: str, *, partition: bool = False) -> None:
    """/sys/class/block/<name> as the kernel lays it out: a relative link into /sys/devices."""
    directory = root / "sys/devices" / device_dir
    directory.mkdir(parents=True)
    if partition:
        (directory / "partition").write_text("1\n")
    (root / "sys/class/block").mkdir(parents=True, exist_ok=True)
    (root / "sys/class/block" / name).symlink_to(f"../../devices/{device_dir}")


def udev_link(root: Path, link: str, device: str) -> None:
    (root / "dev" / device).touch()
    (root / link.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    (root / link.lstrip("/")).symlink_to(f"../../{device}")


@pytest.fixture
def seed004_sysfs(root: Path) -> Path:
    """storage-b: its data disk vdb (partition vdb1, by partlabel), an NVMe partition, and the peer's
    LUN sda (partition sda1) below an iSCSI session, named by path and by id."""
    (root / "dev").mkdir()
    sysfs_entry(root, "vdb", "pci0000:00/0000:00:05.0/virtio2/block/vdb")
    sysfs_entry(root, "vdb1", "pci0000:00/0000:00:05.0/virtio2/block/vdb/vdb1", partition=True)
    sysfs_entry(root, "nvme0n1", "pci0000:00/0000:00:06.0/nvme/nvme0/nvme0n1")
    sysfs_entry(root, "nvme0n1p1", "pci0000:00/0000:00:06.0/nvme/nvme0/nvme0n1/nvme0n1p1", partition=True)
    sysfs_entry(root, "sda", "platform/host2/session1/target2:0:0/2:0:0:0/block/sda")
    sysfs_entry(root, "sda1", "platform/host2/session1/target2:0:0/2:0:0:0/block/sda/sda1", partition=True)
    udev_link(root, "/dev/disk/by-partlabel/data-b-0", "vdb1")
    udev_link(root, "/dev/disk/by-id/nvme-slog-part1", "nvme0n1p1")
    udev_link(root, "/dev/disk/by-path/ip-169.254.210.1:3260-iscsi-iqn.2024-01.local.lab:target.storage-a-lun-0-part1", "sda1")
    udev_link(root, "/dev/disk/by-id/scsi-36001405abcdef-part1", "sda1")
    return root


def test_a_partition_resolves_to_the_whole_disk_it_lies_on(seed004_sysfs: Path) -> None:
    linux = Linux()
    assert linux.parent_disk("vdb1") == "vdb"
    assert linux.parent_disk("nvme0n1p1") == "nvme0n1"
    assert linux.parent_disk("vdb") is None  # a whole disk has no parent disk
    assert linux.over_iscsi("sda1") and not linux.over_iscsi("vdb1")


def test_local_legs_and_their_disks_are_flushed_never_the_peers_luns(seed004_sysfs: Path) -> None:
    legs = [
        "/dev/disk/by-partlabel/data-b-0",
        "/dev/disk/by-path/ip-169.254.210.1:3260-iscsi-iqn.2024-01.local.lab:target.storage-a-lun-0-part1",
        "/dev/disk/by-id/scsi-36001405abcdef-part1",  # the same LUN by id: recognised by its session
        "/dev/disk/by-id/nvme-slog-part1",
        "/dev/disk/by-partlabel/gone",  # a missing leg: nothing to flush
    ]
    assert Linux().page_cached_devices(legs) == ["/dev/vdb1", "/dev/vdb", "/dev/nvme0n1p1", "/dev/nvme0n1"]
    assert FreeBSD().page_cached_devices(legs) == []


def test_label_candidates_are_each_device_once_under_its_first_name(root: Path) -> None:
    (root / "dev").mkdir()
    for device in ("vdb", "vdb1", "sdc", "sdc1"):
        (root / "dev" / device).touch()
    by_partlabel, by_id = root / "dev/disk/by-partlabel", root / "dev/disk/by-id"
    by_partlabel.mkdir(parents=True)
    by_id.mkdir(parents=True)
    (by_partlabel / "storage-a-d0").symlink_to("../../vdb1")
    (by_id / "virtio-storage-a-d0").symlink_to("../../vdb")
    (by_id / "virtio-storage-a-d0-part1").symlink_to("../../vdb1")  # the partlabel's device again
    (by_id / "wwn-0x6001405-part1").symlink_to("../../sdc1")
    (by_id / "dangling").symlink_to("../../sdz")
    found = device_candidates(["/dev/disk/by-partlabel", "/dev/disk/by-missing", "/dev/disk/by-id"])
    assert found == [
        "/dev/disk/by-partlabel/storage-a-d0",
        "/dev/disk/by-id/virtio-storage-a-d0",
        "/dev/disk/by-id/wwn-0x6001405-part1",
    ]


def test_blkid_export_names_the_pools_zfs_members_only() -> None:
    probed = (
        "DEVNAME=/dev/disk/by-id/a\nLABEL=tank\nUUID=1\nTYPE=zfs_member\nUSAGE=filesystem\n\n"
        "DEVNAME=/dev/disk/by-id/b\nLABEL=other\nTYPE=zfs_member\n\n"
        "DEVNAME=/dev/disk/by-id/c\nLABEL=tank\nTYPE=ext4\n\n"
        "DEVNAME=/dev/disk/by-id/d\nPTUUID=x\nPTTYPE=gpt\n"
        "DEVNAME=/dev/disk/by-id/e\nLABEL=tank\nTYPE=zfs_member\n"
    )
    assert zfs_members(probed, "tank") == ["/dev/disk/by-id/a", "/dev/disk/by-id/e"]


def test_default_search_puts_node_local_by_path_names_last() -> None:
    # zpool import names a leg by the first directory holding it; a local disk's by-path name
    # (pci-...) is a different disk on the peer, so partlabels and ids must win.
    assert Linux.default_device_dirs[-1] == "/dev/disk/by-path"
    assert Linux.default_device_dirs[0] == "/dev/disk/by-partlabel"
