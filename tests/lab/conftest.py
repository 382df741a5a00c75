"""Fixtures for the virtual-machine tier: the cached base image and a lab of real Debian guests.

Set LAB_VM_CAPTURE_DIR to keep the real command output the tests collect (tests/unit/data/zpool/ is
filled that way); LAB_VM_KEEP=1 keeps the guests' work directory (console logs) after the run.
"""

from __future__ import annotations

import os
import platform
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.vm.image import Image, ensure_image
from lab.vm.lab import Lab


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
        if os.environ.get("LAB_VM_KEEP"):
            lab.stop()
            print(f"lab work directory kept: {lab.workdir}")
        else:
            lab.remove()
