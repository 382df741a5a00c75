"""Storage plumbing inside lab guests: LIO targets (rtslib), open-iscsi sessions, device paths.

These are the lab's own set-up steps, written the way an admin would type them; the project's agents
are what is under test and do not use this module.
"""

from __future__ import annotations

import json
import time

from lab.vm.guest import ExecResult, Guest
from zfsha.lio.chap import Chap

ISCSI_PORT = 3260

# One rtslib transaction: configfs, target, TPG open to any initiator (lab only), portal, one LUN per
# device, then saveconfig so the target service restores it after a power cut.
_EXPORT_SCRIPT = """
import json, sys
from rtslib_fb import BlockStorageObject, FabricModule, FileIOStorageObject, LUN, NetworkPortal, RTSRoot, Target, TPG
spec = json.loads(sys.stdin.read())
target = Target(FabricModule("iscsi"), spec["iqn"])
tpg = TPG(target, 1)
for name, value in (("authentication", "0"), ("generate_node_acls", "1"),
                    ("demo_mode_write_protect", "0"), ("cache_dynamic_acls", "1")):
    tpg.set_attribute(name, value)
NetworkPortal(tpg, spec["address"], spec["port"])
for index, device in enumerate(spec["devices"]):
    name = spec["prefix"] + str(index)
    if spec["shared"]:
        LUN(tpg, index, FileIOStorageObject(name, dev=device, write_back=False))
    else:
        LUN(tpg, index, BlockStorageObject(name, dev=device))
tpg.enable = True
RTSRoot().save_to_file()
"""


def local_disk(serial: str) -> str:
    """The stable path of a guest data disk (virtio-blk with serial=...)."""
    return f"/dev/disk/by-id/virtio-{serial}"


def target_iqn(guest: Guest) -> str:
    return f"iqn.2024-01.local.lab:target.{guest.name}"


def export_disks(guest: Guest, devices: list[str], address: str, port: int = ISCSI_PORT, shared: bool = False) -> str:
    """Export devices as LUNs 0.. of one iSCSI target on guest, portal address:port; returns the IQN.

    The block backstore opens each device exclusively (the guest's own ZFS cannot even scan it);
    shared=True exports through a write-through fileio backstore instead, as seed 004's nodes do."""
    iqn = target_iqn(guest)
    spec = {"iqn": iqn, "address": address, "port": port, "devices": devices, "prefix": f"{guest.name}-lun", "shared": shared}
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


# ---- initiator side with CHAP, per-interface initiator names, what the initiator's kernel sees ----


# What an initiator presents (userid, password) and, for mutual CHAP, what it expects back: the same
# credential set the agents read from their files.
InitiatorChap = Chap


def add_iface(guest: Guest, name: str, initiator_name: str) -> None:
    """An open-iscsi interface whose logins carry another initiator name (iface.initiatorname)."""
    base = ["iscsiadm", "-m", "iface", "-I", name]
    if guest.exec([*base]).rc != 0:
        guest.exec([*base, "-o", "new"], check=True)
    guest.exec([*base, "-o", "update", "-n", "iface.initiatorname", "-v", initiator_name], check=True)


def set_node(
    guest: Guest,
    address: str,
    iqn: str,
    chap: InitiatorChap | None,
    iface: str = "default",
    port: int = ISCSI_PORT,
    replacement_timeout: int = 10,
) -> None:
    """Create or rewrite the node record of iqn at address:port on iface, without discovery.

    The lab's own initiator set-up: its CHAP secrets pass through iscsiadm's argv inside the guest,
    which is fine for a test initiator and is exactly what the agents under test must not do.
    """
    base = ["iscsiadm", "-m", "node", "-T", iqn, "-p", f"{address}:{port}", "-I", iface]
    if guest.exec([*base]).rc != 0:
        guest.exec([*base, "-o", "new"], check=True)
    settings = {
        "node.session.timeo.replacement_timeout": str(replacement_timeout),
        "node.session.auth.authmethod": "CHAP" if chap else "None",
    }
    if chap:
        settings["node.session.auth.username"] = chap.userid
        settings["node.session.auth.password"] = chap.password
    if chap and chap.mutual_userid:
        settings["node.session.auth.username_in"] = chap.mutual_userid
        settings["node.session.auth.password_in"] = chap.mutual_password
    for name, value in settings.items():
        guest.exec([*base, "-o", "update", "-n", name, "-v", value], check=True)


def node_login(guest: Guest, address: str, iqn: str, iface: str = "default", port: int = ISCSI_PORT) -> ExecResult:
    """Log in through the node record on iface; the result says whether the target let us in."""
    argv = ["iscsiadm", "-m", "node", "-T", iqn, "-p", f"{address}:{port}", "-I", iface, "--login"]
    result = guest.exec(argv, timeout=90)
    if result.rc == 0:
        guest.exec(["udevadm", "settle"], timeout=60)
    return result


def node_logout(guest: Guest, address: str, iqn: str, iface: str = "default", port: int = ISCSI_PORT) -> None:
    """Log out of iqn on iface if a session exists (a dead session is logged out too)."""
    argv = ["iscsiadm", "-m", "node", "-T", iqn, "-p", f"{address}:{port}", "-I", iface, "--logout"]
    guest.exec(argv, timeout=90)
    guest.exec(["udevadm", "settle"], timeout=60)


def session_initiator_names(guest: Guest, iqn: str) -> list[str]:
    """Initiator names of the logged-in sessions to target iqn (empty when there is none)."""
    report = guest.exec(["iscsiadm", "-m", "session", "-P", "1"]).stdout
    names: list[str] = []
    current_target = ""
    for line in report.splitlines():
        words = line.split()
        if line.startswith("Target:") and len(words) > 1:
            current_target = words[1]
        elif current_target == iqn and line.strip().startswith("Iface Initiatorname:") and len(words) > 2:
            names.append(words[2])
    return names


def rescan_sessions(guest: Guest) -> None:
    """Ask every session for its LUNs again (REPORT LUNS), as an admin does after a target adds one."""
    guest.exec(["iscsiadm", "-m", "session", "--rescan"], timeout=90, check=True)
    guest.exec(["udevadm", "settle"], timeout=60)


def visible_luns(guest: Guest, address: str, iqn: str, port: int = ISCSI_PORT) -> dict[int, str]:
    """LUN number -> by-path device of every LUN of iqn that the initiator's kernel attached."""
    prefix = lun_path(address, iqn, 0, port)[: -len("0")]
    listing = guest.exec(["sh", "-c", f"ls -1d {prefix}* 2>/dev/null"]).stdout
    luns: dict[int, str] = {}
    for path in listing.split():
        number = path[len(prefix) :]
        if number.isdigit():  # not the -partN links of a partitioned LUN
            luns[int(number)] = path
    return luns


# VPD page 0x80 as the kernel read it at attach time: 4 header bytes (length in bytes 2-3), then the
# serial, NUL-padded by LIO.
_VPD_SERIAL = (
    "import os, sys\n"
    "device = os.path.basename(os.path.realpath(sys.argv[1]))\n"
    "page = open(f'/sys/block/{device}/device/vpd_pg80', 'rb').read()\n"
    "print(page[4 : 4 + int.from_bytes(page[2:4], 'big')].rstrip(b'\\0 ').decode())\n"
)


def unit_serial(guest: Guest, device: str) -> str:
    """The SCSI unit serial number (VPD page 0x80) the target reported for device."""
    return guest.exec(["python3", "-c", _VPD_SERIAL, device], check=True).stdout.strip()
