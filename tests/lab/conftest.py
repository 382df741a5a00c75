"""Fixtures for the virtual-machine tier: the cached base image and a lab of real Debian guests.

Set LAB_VM_CAPTURE_DIR to keep the real command output the tests collect (tests/unit/data/zpool/ is
filled that way); LAB_VM_KEEP=1 keeps the guests' work directory (console logs) after the run.
"""

from __future__ import annotations

import os
import platform
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.vm.cluster import SanCluster
from lab.vm.image import Image, ensure_image
from lab.vm.lab import Lab, package_under_test


def _why_no_vms() -> str | None:
    if platform.machine() != "x86_64":
        return f"the lab boots x86_64 guests under qemu; this is {platform.machine()}"
    if os.geteuid() != 0:
        return "building the guest image (debootstrap, chroot) needs root"
    if not shutil.which("apt-get") and not shutil.which("qemu-system-x86_64"):
        return "no qemu-system-x86_64 and no apt-get to install it"
    return None


@pytest.fixture(scope="session")
def base_image() -> Image:
    reason = _why_no_vms()
    if reason:
        pytest.skip(reason)
    return ensure_image()


@pytest.fixture(scope="session")
def capture_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("LAB_VM_CAPTURE_DIR")
    directory = Path(configured) if configured else tmp_path_factory.mktemp("captured")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="module")
def storage_lab(base_image: Image) -> Iterator[Lab]:
    """storage-a and storage-b booted (quorum defined but off: boot time is the tier's cost)."""
    lab = Lab(base_image, data_disks=1, disk_mib=256, host_nic=True)
    try:
        lab.start(["storage-a", "storage-b"])
        yield lab
    finally:
        lab.dispose()


@pytest.fixture(scope="session")
def zfsha_deb() -> Path:
    """The package under test (lab.vm.lab.package_under_test); `make lab-check` builds it first and
    sets LAB_VM_NO_MAKE, running pytest directly builds it here."""
    try:
        return package_under_test(make=not os.environ.get("LAB_VM_NO_MAKE"))
    except FileNotFoundError as missing:
        pytest.fail(str(missing))


@pytest.fixture(scope="module")
def san_cluster(base_image: Image, zfsha_deb: Path) -> Iterator[SanCluster]:
    """Seed 004 for real: three guests, the package installed, the README's pcs block applied."""
    lab = Lab(base_image, data_disks=1, disk_mib=256, bridge_nic=True)
    try:
        cluster = SanCluster(lab)
        started = time.monotonic()
        try:
            cluster.bring_up(zfsha_deb)
            cluster.timings["bring_up"] = time.monotonic() - started
            print("cluster bring-up:", {name: round(seconds, 1) for name, seconds in cluster.timings.items()})
            yield cluster
        finally:
            cluster.stop()
    finally:
        lab.dispose()
