"""Seed 004 in the VM lab: two storage nodes and a quorum node, corosync + pacemaker, real power fencing.

What the lab does (as an admin would before running the README's pcs commands):
- each storage node exports its data disk over LIO (the always-on backend target, CHAP protected,
  restored at boot from saveconfig.json) and logs in to the peer's;
- storage-a creates the multihost pool (mirror of its local disk and storage-b's LUN) with a zvol
  dataset, and exports it;
- corosync (token 10 s, for emulation) and pacemaker run on all three guests;
- storage-a's power is a Shelly Gen2 plug peer and storage-b's an IPMI BMC peer, both listening on
  the bridge of the lab's network namespace (Lab(bridge_nic=True), lab.vm.netns), where each guest
  has a tap; switching an outlet kills or boots that guest's qemu, so fence_smartplug / fence_ipmi
  inside the guests fence for real.

The README's pcs block is then run as written, with only the addresses in ADDRESS_MAP replaced.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from lab.nscluster import crm_status
from lab.nscluster.tree import run_over_package
from lab.peers.ipmi import IpmiBmcPeer
from lab.peers.outlets import Outlet, PowerBoard
from lab.peers.shelly_gen2 import ShellyGen2Peer
from lab.vm import storage
from lab.vm.guest import Guest
from lab.vm.lab import HOST_NUMBERS, SERVICE_ADDRESS, STORAGE_NET, Lab

REPO = Path(__file__).resolve().parents[2]
POOL = "san-pool"
ZVOL_DATASET = f"{POOL}/iscsi/hypervisor"
ZVOL = f"{ZVOL_DATASET}/vm-100-disk-0"
CLIENT_IQN = "iqn.2025-01.lab.home:san"
BACKEND_CHAP_USER = "iscsiuser"
STORAGE_NODES = ("storage-a", "storage-b")
NODES = (*STORAGE_NODES, "quorum")
HOST = SERVICE_ADDRESS
# The README's client networks are kept as they are: Linux refuses a second address in a
# 169.254/16 prefix ("RTNETLINK answers: Invalid argument"), so IPaddr2 cannot add a VIP on the lab's
# link-local segments. Each guest gets an address of the README's client subnets on the same segments
# (guest-only interfaces: nothing of it reaches a host interface).
HYPERVISOR_NET, ENDUSER_NET = "10.40.40", "10.30.30"
HYPERVISOR_VIP = f"{HYPERVISOR_NET}.10"
ENDUSER_VIP = f"{ENDUSER_NET}.10"

# The README's example addresses and what they are in the lab. Nothing else in its pcs block changes:
# node names, IQNs, pool and dataset names, secret file paths are the lab's as well.
ADDRESS_MAP = {
    "10.20.20.101": HOST,  # storage-a's smart plug (Shelly Gen2 peer on the lab's bridge)
    "10.20.20.202": HOST,  # storage-b's BMC (IPMI peer on the lab's bridge)
    "10.10.10.1": f"{STORAGE_NET}.1",
    "10.10.10.2": f"{STORAGE_NET}.2",
}

# What the lab adds to the README's fence devices for emulation: nothing now. fence-b had
# login_timeout=15 while fence_ipmi's login timer also counted importing pyghmi (1.7-6.4 s in a
# loaded TCG guest, measured 2026-12-02, against ~0.1 s of BMC answers on the wire); the agent now
# imports it before the timer starts (lib/zfsha/ipmi.py), so the default 5 s bounds the BMC alone.
EMULATION_OPTIONS: dict[str, list[str]] = {}


def backend_iqn(name: str) -> str:
    return f"iqn.2025-01.lab.home:{name}"


def local_leg(name: str) -> str:
    return f"/dev/disk/by-partlabel/{name}-d0"


def client_lun_path(lun: int = 0) -> str:
    return storage.lun_path(HYPERVISOR_VIP, CLIENT_IQN, lun)


# One rtslib transaction per storage node: its backend target, CHAP on the demo-mode TPG.
# A fileio backstore, not block: LIO's block (iblock) backstore opens the disk O_EXCL, and the node
# then cannot put that same disk in its own pool ("is in use"), which seed 004 needs on the active
# node. fileio opens it shared, write-through (write_back=False). Caveat (see the issue report): it
# reads through the exporting node's page cache, which that node's own ZFS writes bypass.
_EXPORT_SCRIPT = """
import json, sys
from rtslib_fb import FileIOStorageObject, FabricModule, LUN, NetworkPortal, RTSRoot, Target, TPG
spec = json.loads(sys.stdin.read())
target = Target(FabricModule("iscsi"), spec["iqn"])
tpg = TPG(target, 1)
for name, value in (("authentication", "1"), ("generate_node_acls", "1"),
                    ("demo_mode_write_protect", "0"), ("cache_dynamic_acls", "1")):
    tpg.set_attribute(name, value)
tpg.chap_userid = spec["user"]
tpg.chap_password = spec["password"]
NetworkPortal(tpg, spec["address"], 3260)
for index, device in enumerate(spec["devices"]):
    LUN(tpg, index, FileIOStorageObject(spec["prefix"] + str(index), dev=device, write_back=False))
tpg.enable = True
RTSRoot().save_to_file()
"""

COROSYNC_CONF = """totem {{
    version: 2
    cluster_name: zfsha-lab
    transport: knet
    token: 10000
    crypto_cipher: none
    crypto_hash: none
}}
nodelist {{
{nodes}}}
quorum {{
    provider: corosync_votequorum
}}
logging {{
    to_syslog: yes
    to_stderr: no
    timestamp: on
}}
"""


def readme_pcs_commands(readme: Path, mapping: dict[str, str], extra: dict[str, list[str]] | None = None) -> list[list[str]]:
    """The pcs commands of README.md's configuration block, addresses replaced through mapping, and
    extra[name] added to the instance options of the command creating resource or stonith device `name`."""
    text = readme.read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    block = next(b for b in blocks if "pcs property set stonith-enabled" in b)
    for old, new in sorted(mapping.items(), key=lambda item: -len(item[0])):
        if old not in block:
            raise ValueError(f"README's pcs block no longer mentions {old}: update the lab's ADDRESS_MAP")
        block = block.replace(old, new)
    joined = re.sub(r"\\\n\s*", " ", block)
    commands = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            commands.append(shlex.split(line))
    for name, options in (extra or {}).items():
        creating = [argv for argv in commands if argv[1:3] in (["stonith", "create"], ["resource", "create"]) and argv[3] == name]
        if len(creating) != 1:
            raise ValueError(f"README's pcs block no longer creates {name}: update the lab's EMULATION_OPTIONS")
        argv = creating[0]
        # Instance options go before pcs's "op"/"meta" sections and flags, which would swallow them.
        end = next((i for i, word in enumerate(argv) if i > 4 and (word in ("op", "meta") or word.startswith("--"))), len(argv))
        argv[end:end] = options
    return commands


class PowerSwitch:
    """Turns outlet changes into guest power: off = SIGKILL qemu, on = launch qemu.

    Actions run on one long-lived thread: qemu dies with the thread that started it (PDEATHSIG),
    and a peer's request thread ends as soon as it has answered.
    """

    def __init__(self, guests: dict[str, Guest]) -> None:
        self.guests = guests
        self.log: list[tuple[float, str, bool]] = []
        self._queue: queue.Queue[tuple[str, bool] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._held: set[str] = set()
        self._deferred: set[str] = set()
        self._thread = threading.Thread(target=self._work, name="lab-power", daemon=True)
        self._thread.start()

    def hold(self, name: str) -> None:
        """From now on a power-on of `name` leaves it off until release(): a server still in its
        firmware's POST, which on real hardware takes minutes and in the lab would take nothing, so
        that a scenario can look at the cluster while the fenced node is really away."""
        with self._lock:
            self._held.add(name)

    def release(self, name: str) -> None:
        """End hold(); a power-on asked for meanwhile happens now (on the power thread)."""
        with self._lock:
            self._held.discard(name)
            if name in self._deferred:
                self._deferred.discard(name)
                self._queue.put((name, True))

    def hook(self, name: str) -> Callable[[str, bool], None]:
        def changed(_outlet: str, on: bool) -> None:
            self._queue.put((name, on))

        return changed

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            name, on = item
            with self._lock:
                if on and name in self._held:
                    self._deferred.add(name)
                    continue
                if not on:
                    self._deferred.discard(name)
            self.log.append((time.monotonic(), name, on))
            guest = self.guests[name]
            if on:
                guest.power_on()
            else:
                guest.kill()
            # Keep this thread alive while guests it started run (see class docstring).

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)


class SanCluster:
    """The three-guest seed-004 cluster, brought up step by step (see module docstring)."""

    def __init__(self, lab: Lab, secrets: dict[str, str] | None = None) -> None:
        self.lab = lab
        self.secrets = secrets or {
            "backend": os.urandom(8).hex(),
            "client": os.urandom(8).hex(),
            "plug": os.urandom(8).hex(),
            "bmc": os.urandom(8).hex(),
        }
        self.power = PowerSwitch({name: lab[name] for name in STORAGE_NODES})
        self.plug: ShellyGen2Peer | None = None
        self.bmc: IpmiBmcPeer | None = None
        self.address_map = dict(ADDRESS_MAP)
        self.timings: dict[str, float] = {}
        self.package_root: Path | None = None
        self._package_dir: tempfile.TemporaryDirectory[str] | None = None

    def __getitem__(self, name: str) -> Guest:
        return self.lab[name]

    # ---- power devices, on the lab's bridge --------------------------------------------------------

    def start_power_devices(self) -> None:
        """The plug (a thread of this process) and the BMC (a child process) listen on the bridge at
        HOST, their standard ports (80, 623: the namespace is the lab's, nothing else binds there).

        Both are started from a thread inside the lab's namespace: the plug's socket and the BMC's
        process belong to the namespace of the thread that created them.
        """
        netns = self.lab.netns
        if netns is None:
            raise RuntimeError("SanCluster needs Lab(bridge_nic=True): the guests reach their power devices there")
        plug_board = PowerBoard([Outlet("0")], on_change=self.power.hook("storage-a"))
        self.plug = ShellyGen2Peer(plug_board, password=self.secrets["plug"], listen=HOST, port=80)
        netns.call(self.plug.start)
        bmc_board = PowerBoard([Outlet("chassis")], on_change=self.power.hook("storage-b"))
        self.bmc = IpmiBmcPeer(bmc_board, username="admin", password=self.secrets["bmc"], listen=HOST, port=623)
        netns.call(self.bmc.start)

    def power_board(self, name: str) -> tuple[PowerBoard, str]:
        """The outlet feeding a storage node (cut it to pull that node's plug)."""
        if name == "storage-a":
            assert self.plug is not None
            return self.plug.board, "0"
        assert self.bmc is not None
        return self.bmc.board, "chassis"

    def stop(self) -> None:
        for peer in (self.plug, self.bmc):
            if peer is not None:
                peer.stop()
        self.power.close()
        if self._package_dir is not None:
            self._package_dir.cleanup()

    # ---- the storage layer, set up by the lab ---------------------------------------------------

    def write_node_files(self) -> None:
        """Secrets (mode 600), iSCSI defaults and sysctls; the pcs block names these paths."""
        backend = f"{self.secrets['backend']}\n"
        client = f"userid=proxmox\npassword={self.secrets['client']}\n"
        for name in NODES:
            guest = self.lab[name]
            guest.exec(["mkdir", "-p", "-m", "700", "/etc/zfsha"], check=True)
            guest.write_file("/etc/zfsha/plug-a.password", self.secrets["plug"] + "\n", mode=0o600)
            guest.write_file("/etc/zfsha/bmc-b.password", self.secrets["bmc"] + "\n", mode=0o600)
            number = HOST_NUMBERS[name]
            for index, net in ((1, HYPERVISOR_NET), (2, ENDUSER_NET)):
                # A drop-in for lab-identity's networkd file of that NIC: kept across fenced reboots.
                guest.exec(["mkdir", "-p", f"/etc/systemd/network/10-lab-{index}.network.d"], check=True)
                guest.write_file(
                    f"/etc/systemd/network/10-lab-{index}.network.d/client-net.conf",
                    f"[Network]\nAddress={net}.{number}/24\n",
                )
            guest.sh(
                "networkctl reload && networkctl reconfigure $(ls /sys/class/net | grep -vx lo) && "
                f"for i in $(seq 60); do ip -br a | grep -q '{ENDUSER_NET}.{number}/' && exit 0; sleep 1; done; exit 1"
            )
            if name in STORAGE_NODES:
                guest.write_file("/etc/zfsha/backend-chap.secret", backend, mode=0o600)
                guest.write_file("/etc/zfsha/proxmox.chap", client, mode=0o600)
                # The LIO portal binds the VIP before IPaddr2 has added it; kept across a fenced reboot.
                guest.write_file("/etc/sysctl.d/90-zfsha.conf", "net.ipv4.ip_nonlocal_bind = 1\n")
                guest.sh("sysctl -qw net.ipv4.ip_nonlocal_bind=1")
                user, secret = BACKEND_CHAP_USER, self.secrets["backend"]
                replacement = 5  # seed 004
            else:
                user, secret = "proxmox", self.secrets["client"]
                replacement = 120  # a client queues I/O across a failover
            # Defaults for node records made by discovery: CHAP without a secret on any command line.
            guest.sh(
                "sed -i '/^node.session.auth\\|^node.session.timeo.replacement_timeout/d' /etc/iscsi/iscsid.conf",
            )
            conf = guest.read_file("/etc/iscsi/iscsid.conf").decode()
            conf += (
                f"node.session.auth.authmethod = CHAP\nnode.session.auth.username = {user}\n"
                f"node.session.auth.password = {secret}\nnode.session.timeo.replacement_timeout = {replacement}\n"
            )
            guest.write_file("/etc/iscsi/iscsid.conf", conf, mode=0o600)

    def partition_disks(self) -> None:
        """One GPT partition per data disk, labelled with the disk's name, made by the disk's own node.

        Made locally before export so each node's kernel knows its own partition table: a pool
        created by the peer over iSCSI partitions the disk behind this node's back (its kernel
        then sees no partition and zpool import finds no label). The partlabels are unique across
        nodes, so they are stable leg names wherever the pool is imported.
        """
        for name in STORAGE_NODES:
            guest = self.lab[name]
            disk = storage.local_disk(f"{name}-d0")
            guest.sh(f"printf 'label: gpt\\n,,\\n' | sfdisk -q {disk}")
            guest.sh(f"sfdisk -q --part-label {disk} 1 {name}-d0 && udevadm settle")
            storage.wait_for_path(guest, local_leg(name))

    def export_backends(self) -> None:
        for name in STORAGE_NODES:
            spec = {
                "iqn": backend_iqn(name),
                "address": self.lab.storage_address(name),
                "devices": [storage.local_disk(f"{name}-d0")],
                "prefix": f"{name}-backend",
                "user": BACKEND_CHAP_USER,
                "password": self.secrets["backend"],
            }
            guest = self.lab[name]
            result = guest.exec(["python3", "-c", _EXPORT_SCRIPT], input=json.dumps(spec), timeout=120)
            if result.rc != 0:
                raise RuntimeError(f"{name}: LIO export failed: {result.stderr.strip()}")
            guest.exec(["sync"], check=True)

    def login_peers(self) -> None:
        for name, peer in (("storage-a", "storage-b"), ("storage-b", "storage-a")):
            address = self.lab.storage_address(peer)
            storage.login(self.lab[name], address, backend_iqn(peer), replacement_timeout=5)
            storage.wait_for_path(self.lab[name], self.peer_leg(peer))

    def peer_lun(self, peer: str) -> str:
        return storage.lun_path(self.lab.storage_address(peer), backend_iqn(peer), 0)

    def peer_leg(self, peer: str) -> str:
        return self.peer_lun(peer) + "-part1"

    def create_pool(self) -> None:
        """README: zpool create -o multihost=on -o cachefile=none san-pool mirror <local> <peer LUN>, export."""
        a = self.lab["storage-a"]
        # partlabels: virtio by-path names repeat on every guest; the peer's leg is its LUN's partition.
        legs = [local_leg("storage-a"), self.peer_leg("storage-b")]
        a.exec(
            ["zpool", "create", "-o", "multihost=on", "-o", "cachefile=none", POOL, "mirror", *legs],
            timeout=180,
            check=True,
        )
        a.exec(["zfs", "create", "-p", ZVOL_DATASET], check=True)
        a.exec(["zfs", "create", "-V", "64M", ZVOL], check=True)
        a.exec(["zpool", "export", POOL], timeout=120, check=True)

    # ---- corosync and pacemaker ------------------------------------------------------------------

    def write_corosync(self) -> None:
        nodes = "".join(
            f"    node {{\n        ring0_addr: {self.lab.cluster_address(name)}\n        name: {name}\n"
            f"        nodeid: {number}\n    }}\n"
            for number, name in enumerate(NODES, 1)
        )
        conf = COROSYNC_CONF.format(nodes=nodes)
        authkey = os.urandom(256)
        for name in NODES:
            guest = self.lab[name]
            guest.write_file("/etc/corosync/corosync.conf", conf)
            guest.write_file("/etc/corosync/authkey", authkey, mode=0o400)

    def start_cluster_stack(self, names: tuple[str, ...] = NODES) -> None:
        Lab._parallel(
            [self.lab[name] for name in names],
            lambda guest: guest.exec(["systemctl", "start", "corosync", "pacemaker"], timeout=120, check=True) and 0.0,
        )

    def status(self, via: str | None = None) -> ET.Element:
        """crm_mon's XML status, asked of `via` (default: the first running node that answers)."""
        names = [via] if via else [name for name in NODES if self.lab[name].running]
        last = ""
        for name in names:
            result = self.lab[name].exec(["crm_mon", "-1", "--output-as=xml"], timeout=60)
            if result.rc == 0:
                return ET.fromstring(result.stdout)
            last = f"{name}: crm_mon exited {result.rc}: {result.stderr.strip()}"
        raise RuntimeError(last or "no running node")

    def online_nodes(self, via: str | None = None) -> set[str]:
        root = self.status(via)
        return {node.get("name", "") for node in root.iter("node") if node.get("online") == "true"}

    def wait_online(self, names: tuple[str, ...] = NODES, timeout: float = 300, via: str | None = None) -> float:
        started = time.monotonic()
        while True:
            try:
                root = self.status(via)
                # Joined, not just online (a rebooted node reads online while its join is pending);
                # standby is left to the scenarios.
                online = set(crm_status.joined_nodes(root))
                dc = root.find("summary/current_dc")
                if set(names) <= online and dc is not None and dc.get("present") == "true":
                    return time.monotonic() - started
            except (RuntimeError, ET.ParseError):
                pass
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"nodes {names} not online after {timeout} s")
            time.sleep(3)

    def where(self, resource: str, via: str | None = None) -> list[str]:
        """Nodes on which resource is active (started, including degraded)."""
        root = self.status(via)
        for element in root.iter("resource"):
            if element.get("id") == resource:
                # role is "Starting"/"Stopping" while an action is pending (shown as active).
                if element.get("active") != "true" or element.get("failed") == "true" or element.get("role") != "Started":
                    return []
                return [node.get("name", "") for node in element.iter("node")]
        return []

    def action_times(self, resources: tuple[str, ...], via: str = "quorum") -> list[str]:
        """Each node's last start and stop of these resources and how long they ran (crm_mon's
        operation history, exec-time), for the run log: where a switchover's time goes."""
        result = self.lab[via].exec(["crm_mon", "-1", "--operations", "--output-as=xml"], timeout=60)
        try:
            root = ET.fromstring(result.stdout)
        except ET.ParseError:
            return [f"crm_mon --operations exited {result.rc}: {result.stderr.strip()}"]
        lines = []
        for node in root.iter("node"):
            for history in node.iter("resource_history"):
                if history.get("id") not in resources:
                    continue
                for operation in history.iter("operation_history"):
                    if operation.get("task") in ("start", "stop"):
                        lines.append(
                            f"{node.get('name')} {history.get('id')} {operation.get('task')}: {operation.get('exec-time')} "
                            f"(rc {operation.get('rc')}, at {operation.get('last-rc-change')})"
                        )
        return lines

    def wait_started(
        self, resource: str, on: str | None = None, timeout: float = 300, via: str | None = None
    ) -> tuple[str, float]:
        started = time.monotonic()
        while True:
            try:
                nodes = self.where(resource, via)
            except (RuntimeError, ET.ParseError):
                nodes = []
            if len(nodes) == 1 and (on is None or nodes[0] == on):
                return nodes[0], time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{resource} not started{' on ' + on if on else ''} after {timeout} s: {nodes}")
            time.sleep(2)

    def pcs(self, argv: list[str], via: str = "quorum", check: bool = True, timeout: float = 180):
        result = self.lab[via].exec(argv, timeout=timeout)
        if check and result.rc != 0:
            raise RuntimeError(f"{shlex.join(argv)} exited {result.rc}: {result.stdout}{result.stderr}")
        return result

    def pcs_batch(self, commands: list[list[str]], via: str = "quorum") -> None:
        """Apply pcs commands to the cluster as one change: each runs on the host with `pcs -f` against
        a copy of the live CIB, seeing the package under test's agents at the standard paths (the
        same pcs, 0.11.5 from Debian 12, as in the guests), then the configuration section is pushed
        to the cluster once (`cibadmin --replace --scope configuration`, what `pcs cluster cib-push
        --config` does).

        Why: one pcs call costs 25-60 s in a TCG guest (the README's block took 830 s there, most of
        the lab's bring-up) and about a second on the host; the commands and their checks are pcs's.
        """
        if self.package_root is None:
            raise RuntimeError("pcs_batch needs the package under test: call bring_up (or unpack) first")
        with tempfile.TemporaryDirectory(prefix="zfsha-cib-") as scratch:
            cib = Path(scratch) / "cib.xml"
            cib.write_text(self.lab[via].exec(["cibadmin", "--query"], timeout=120, check=True).stdout)
            for argv in commands:
                if argv[0] != "pcs":
                    raise ValueError(f"not a pcs command: {shlex.join(argv)}")
                result = run_over_package(self.package_root, ["pcs", "-f", str(cib), *argv[1:]])
                if result.returncode != 0:
                    raise RuntimeError(f"{shlex.join(argv)} exited {result.returncode}: {result.stdout}{result.stderr}")
            configuration = ET.parse(cib).getroot().find("configuration")
            if configuration is None:
                raise RuntimeError("the CIB pcs wrote has no configuration section")
            self.lab[via].write_file("/root/zfsha-configuration.xml", ET.tostring(configuration))
        self.lab[via].exec(
            ["cibadmin", "--replace", "--scope", "configuration", "--xml-file", "/root/zfsha-configuration.xml"],
            timeout=120,
            check=True,
        )

    def unpack(self, deb: Path) -> None:
        """Unpack the package under test on the host, for pcs_batch (dpkg-deb -x, nothing installed)."""
        self._package_dir = tempfile.TemporaryDirectory(prefix="zfsha-deb-")
        subprocess.run(["dpkg-deb", "-x", str(deb), self._package_dir.name], check=True, capture_output=True)
        self.package_root = Path(self._package_dir.name)

    def configure_from_readme(self, readme: Path = REPO / "README.md") -> list[list[str]]:
        commands = readme_pcs_commands(readme, self.address_map, EMULATION_OPTIONS)
        self.pcs_batch(commands)
        return commands

    # ---- the client (quorum node) ----------------------------------------------------------------

    def client_login(self) -> str:
        """The quorum node logs in to the hypervisor VIP with the client CHAP; returns LUN 0's device path."""
        client = self.lab["quorum"]
        portal = f"{HYPERVISOR_VIP}:3260"
        for _attempt in range(5):  # the portal may lag the resource's start by a moment
            if client.exec(["iscsiadm", "-m", "discovery", "-t", "sendtargets", "-p", portal], timeout=60).rc == 0:
                break
            time.sleep(5)
        client.exec(["iscsiadm", "-m", "discovery", "-t", "sendtargets", "-p", portal], timeout=60, check=True)
        client.exec(["iscsiadm", "-m", "node", "-T", CLIENT_IQN, "-p", portal, "--login"], timeout=60, check=True)
        client.exec(["udevadm", "settle"], timeout=60)
        path = client_lun_path(0)
        storage.wait_for_path(client, path)
        return path

    def client_logout(self) -> None:
        self.lab["quorum"].exec(
            ["iscsiadm", "-m", "node", "-T", CLIENT_IQN, "-p", f"{HYPERVISOR_VIP}:3260", "--logout"], timeout=60
        )

    def client_identity(self) -> dict[str, str]:
        """LUN numbers, unit serials (VPD 0x80) and device ids (VPD 0x83) the client sees, read from sysfs."""
        script = (
            "for l in /dev/disk/by-path/ip-*-iscsi-" + CLIENT_IQN + "-lun-*; do "
            'case "$l" in *-part*) continue;; esac; d=$(basename $(readlink -f "$l")); '
            'echo "${l##*-lun-} $(tr -dc "[:print:]" < /sys/block/$d/device/vpd_pg80) '
            '$(od -An -tx1 /sys/block/$d/device/vpd_pg83 | tr -d " \\n")"; done'
        )
        lines = self.lab["quorum"].sh(script).stdout.splitlines()
        return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in lines if line}

    def client_write(self, path: str, mib: int = 8, offset_mib: int = 0) -> str:
        """Write random data at offset, fsync'd (O_DIRECT + conv=fsync); returns its sha256."""
        client = self.lab["quorum"]
        client.sh(
            f"head -c {mib << 20} /dev/urandom > /root/chunk && "
            f"dd if=/root/chunk of={path} bs=1M seek={offset_mib} oflag=direct conv=fsync,notrunc status=none",
            timeout=300,
        )
        return client.sh("sha256sum /root/chunk").stdout.split()[0]

    def client_read(self, path: str, mib: int = 8, offset_mib: int = 0, timeout: float = 300) -> str:
        result = self.lab["quorum"].sh(
            f"dd if={path} bs=1M skip={offset_mib} count={mib} iflag=direct status=none | sha256sum", timeout=timeout
        )
        return result.stdout.split()[0]

    # ---- the whole bring-up ----------------------------------------------------------------------

    def bring_up(self, deb: Path) -> None:
        clock = time.monotonic()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.monotonic()
            self.timings[name] = now - clock
            clock = now

        self.start_power_devices()
        self.lab.start(NODES)
        lap("boot")
        self.lab.install_deb(deb, NODES)
        self.unpack(deb)
        lap("install_deb")
        self.write_node_files()
        self.partition_disks()
        self.export_backends()
        self.login_peers()
        self.create_pool()
        lap("storage")
        self.write_corosync()
        self.start_cluster_stack()
        self.wait_online()
        lap("cluster_online")
        self.configure_from_readme()
        lap("pcs")

    # ---- scenario helpers ------------------------------------------------------------------------

    def rejoin(self, name: str, timeout: float = 400) -> float:
        """A fenced node came back powered on (corosync/pacemaker are not started at boot): rejoin it."""
        started = time.monotonic()
        guest = self.lab[name]
        while not guest.running:
            if time.monotonic() - started > 120:
                raise TimeoutError(f"{name} was not powered on again")
            time.sleep(1)
        guest.wait_ready(timeout)
        self.start_cluster_stack((name,))
        self.wait_online(timeout=timeout)
        return time.monotonic() - started

    def import_count(self, name: str) -> int:
        """How many times the pool was imported (zpool history): a restart shows as one more."""
        history = self.lab[name].exec(["zpool", "history", POOL], timeout=60, check=True).stdout
        return sum(1 for line in history.splitlines() if "zpool import" in line)

    def failures(self, via: str | None = None) -> list[dict[str, str]]:
        """crm_mon's failed actions (op, node, exit status and the agent's exit reason)."""
        return [dict(element.attrib) for element in self.status(via).iter("failure")]

    def cut_power(self, name: str) -> None:
        """Switch a storage node off through its own power device, as pulling its plug would."""
        if name == "storage-a":
            assert self.plug is not None
            self.plug.board.set("0", False)  # the plug peer's relay state lives in this process
            return
        assert self.bmc is not None
        self.ipmitool("chassis", "power", "off")

    def ipmitool(self, *command: str) -> str:
        """ipmitool against storage-b's BMC from inside the lab's namespace, as an admin would; its stdout.

        The BMC runs in a child process, so its power state is asked and switched over IPMI.
        """
        assert self.bmc is not None and self.lab.netns is not None
        argv = ["ipmitool", "-I", "lanplus", "-H", HOST, "-p", str(self.bmc.port), "-U", "admin", "-E", *command]
        result = subprocess.run(
            argv,
            preexec_fn=self.lab.netns.preexec(),
            env={**os.environ, "IPMI_PASSWORD": self.secrets["bmc"]},
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return result.stdout

    def wait_resilvered(self, name: str, timeout: float = 400, writing: tuple[str, int] | None = None) -> str:
        """Wait until the pool on `name` is ONLINE, resilvered, and its agent says so; returns zpool status.

        zpool status keeps the last "resilvered" line, which may be an older resilver's: the pool
        agent's health attribute stays RESILVERING until the resilver it watched has finished.
        writing=(path, offset MiB): the client keeps writing 1 MiB there meanwhile, as a served pool
        is written to.
        """
        deadline = time.monotonic() + timeout
        status = ""
        query = ["crm_attribute", "--lifetime", "reboot", "--node", name, "--name", f"zfs-pool-{POOL}-health"]
        while time.monotonic() < deadline:
            status = self.lab[name].exec(["zpool", "status", POOL]).stdout
            if storage.pool_health(self.lab[name], POOL) == "ONLINE" and "resilvered" in status:
                attribute = self.lab[name].exec([*query, "--query", "--quiet"], timeout=60).stdout.strip()
                if attribute == "ONLINE":
                    return status
            if writing is not None:
                self.client_write(writing[0], 1, writing[1])
            time.sleep(5)
        raise TimeoutError(f"pool on {name} not ONLINE+resilvered after {timeout} s:\n{status}\n{self.leg_diagnosis(name)}")

    def leg_diagnosis(self, name: str) -> str:
        """What the node sees of a leg that does not come back: the pool's txgs and each partlabel's
        newest label txg, its iSCSI sessions and its block devices (run 3 found storage-a's partlabel
        missing on storage-b, not a label newer than the pool)."""
        guest = self.lab[name]
        txgs = guest.exec(["sh", "-c", f"tail -n 2 /proc/spl/kstat/zfs/{POOL}/txgs"]).stdout
        labels = guest.exec(
            ["sh", "-c", 'for d in /dev/disk/by-partlabel/*; do echo "$d: $(zdb -l "$d" | grep -m1 \' txg:\')"; done']
        ).stdout
        # Tells a session that did not come back from a LUN whose partitions were not read.
        sessions = guest.exec(["sh", "-c", "iscsiadm -m session -P 3 2>&1 | grep -E 'Target:|State|Attached scsi disk'"]).stdout
        disks = guest.exec(["lsblk", "-o", "NAME,SIZE,TRAN,PARTLABEL"]).stdout
        return f"pool txgs (kstat tail):\n{txgs}leg labels:\n{labels}iSCSI sessions:\n{sessions}block devices:\n{disks}"

    def powered_off_since(self, name: str, since: float) -> list[float]:
        """When (monotonic) `name` was switched off after `since`, from the lab's own record of every
        power change its plug or BMC made (PowerSwitch.log): a fencing the test did not cause itself.

        Not the fencing history: after storage-b's reboots in scenarios 3 and 4 `stonith_admin
        --history` still listed only the first (seen 2026-12-03), so it cannot tell a new fencing.
        """
        return [when for when, switched, on in list(self.power.log) if switched == name and not on and when > since]

    def fencer_log(self, name: str, via: str = "quorum") -> str:
        """The fencer's own lines about actions against `name` in `via`'s pacemaker.log (for the run log)."""
        result = self.lab[via].exec(["grep", "-h", f"targeting {name}", "/var/log/pacemaker/pacemaker.log"], timeout=60)
        return "\n".join(result.stdout.splitlines()[-6:])

    def flush_backend_cache(self, name: str) -> None:
        """Drop `name`'s page cache of its exported disk (BLKFLSBUF), as zfs-iscsi-pool's stop does.

        LIO's fileio backstore (the only one that can share the disk with the node's own ZFS;
        block/iblock opens it O_EXCL) reads through the page cache, which the node's own ZFS writes
        bypass, so a peer importing over iSCSI would read stale labels. ocf:zfsha:zfs-iscsi-pool
        flushes after its export; agents that do not (ocf:heartbeat:ZFS in bench/failover.py) need
        the lab to do it before a planned move.
        """
        self.lab[name].exec(["blockdev", "--flushbufs", storage.local_disk(f"{name}-d0")], check=True)
