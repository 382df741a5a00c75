"""Storage plumbing inside lab guests: LIO targets (rtslib), open-iscsi sessions, device paths.

These are the lab's own set-up steps, written the way an admin would type them; the project's agents
are what is under test and do not use this module.
"""

from __future__ import annotations

import json
import time

from lab.vm.guest import Guest

ISCSI_PORT = 3260

# One rtslib transaction: configfs, target, TPG open to any initiator (lab only), portal, one LUN per
# device, then saveconfig so the target service restores it after a power cut.
_EXPORT_SCRIPT = """
import json, sys
from rtslib_fb import BlockStorageObject, FabricModule, LUN, NetworkPortal, RTSRoot, Target, TPG
spec = json.loads(sys.stdin.read())
target = Target(FabricModule("iscsi"), spec["iqn"])
tpg = TPG(target, 1)
for name, value in (("authentication", "0"), ("generate_node_acls", "1"),
                    ("demo_mode_write_protect", "0"), ("cache_dynamic_acls", "1")):
    tpg.set_attribute(name, value)
NetworkPortal(tpg, spec["address"], spec["port"])
for index, device in enumerate(spec["devices"]):
    LUN(tpg, index, BlockStorageObject(spec["prefix"] + str(index), dev=device))
tpg.enable = True
RTSRoot().save_to_file()
"""


def local_disk(serial: str) -> str:
    """The stable path of a guest data disk (virtio-blk with serial=...)."""
    return f"/dev/disk/by-id/virtio-{serial}"


def target_iqn(guest: Guest) -> str:
    return f"iqn.2024-01.local.lab:target.{guest.name}"


def export_disks(guest: Guest, devices: list[str], address: str, port: int = ISCSI_PORT) -> str:
    """Export devices as LUNs 0.. of one iSCSI target on guest, portal address:port; returns the IQN."""
    iqn = target_iqn(guest)
    spec = {"iqn": iqn, "address": address, "port": port, "devices": devices, "prefix": f"{guest.name}-lun"}
    result = guest.exec(["python3", "-c", _EXPORT_SCRIPT], input=json.dumps(spec), timeout=120)
    if result.rc != 0:
        raise RuntimeError(f"{guest.name}: LIO export failed: {result.stderr.strip()}")
    # saveconfig.json sits in the page cache; a killed guest would come back with an empty target.
    guest.exec(["sync"], check=True)
    return iqn


def login(guest: Guest, address: str, iqn: str, port: int = ISCSI_PORT, replacement_timeout: int = 10) -> None:
    """Discover and log in to iqn at address:port, failing I/O replacement_timeout s after the link dies."""
    portal = f"{address}:{port}"
    guest.exec(["iscsiadm", "-m", "discovery", "-t", "sendtargets", "-p", portal], timeout=60, check=True)
    guest.exec(
        [
            "iscsiadm",
            "-m",
            "node",
            "-T",
            iqn,
            "-p",
            portal,
            "-o",
            "update",
            "-n",
            "node.session.timeo.replacement_timeout",
            "-v",
            str(replacement_timeout),
        ],
        check=True,
    )
    guest.exec(["iscsiadm", "-m", "node", "-T", iqn, "-p", portal, "--login"], timeout=60, check=True)
    guest.exec(["udevadm", "settle"], timeout=60)


def logout(guest: Guest, address: str, iqn: str, port: int = ISCSI_PORT) -> None:
    guest.exec(["iscsiadm", "-m", "node", "-T", iqn, "-p", f"{address}:{port}", "--logout"], timeout=60, check=True)


def lun_path(address: str, iqn: str, lun: int, port: int = ISCSI_PORT) -> str:
    return f"/dev/disk/by-path/ip-{address}:{port}-iscsi-{iqn}-lun-{lun}"


def wait_for_path(guest: Guest, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while guest.exec(["test", "-b", path]).rc != 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{guest.name}: {path} did not appear")
        time.sleep(1)


def pool_health(guest: Guest, pool: str) -> str:
    """The pool's state as the kernel reports it (ONLINE, DEGRADED, SUSPENDED, ...) without running zpool."""
    result = guest.exec(["cat", f"/proc/spl/kstat/zfs/{pool}/state"])
    return result.stdout.strip() if result.rc == 0 else ""
