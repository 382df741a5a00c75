"""One Debian guest under qemu: its disks, NICs, identity, power, and commands run through the guest agent."""

from __future__ import annotations

import base64
import ctypes
import hashlib
import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from lab.vm.image import Image
from lab.vm.netns import LabNetns
from lab.vm.qemu_json import GuestAgent, QemuJsonError, Qmp

# /dev/kvm on the development machine is a software implementation that hangs the guest kernel, so
# TCG is the default; LAB_VM_ACCEL=kvm switches on machines with working KVM.
DEFAULT_ACCEL = os.environ.get("LAB_VM_ACCEL", "tcg")
ACCEL_ARGS = {
    "tcg": ["-accel", "tcg,thread=multi,tb-size=256", "-cpu", "max"],
    "kvm": ["-accel", "kvm", "-cpu", "host"],
}
QEMU = "qemu-system-x86_64"
WRITE_CHUNK = 1 << 20
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class ExecResult(NamedTuple):
    rc: int
    stdout: str
    stderr: str


class GuestCommandError(Exception):
    """A command run with check=True exited non-zero."""


@dataclass(frozen=True)
class Segment:
    """A guest-to-guest Ethernet segment: qemu socket netdevs on one multicast group, loopback only."""

    port: int
    group: str = "230.0.0.1"

    def netdev(self, netdev_id: str) -> str:
        return f"socket,id={netdev_id},mcast={self.group}:{self.port},localaddr=127.0.0.1"


@dataclass(frozen=True)
class Nic:
    """A guest NIC on a Segment with a static address (applied in the guest by systemd-networkd)."""

    segment: Segment
    address: str  # "169.254.210.1/24"


@dataclass(frozen=True)
class HostNic:
    """A NIC on qemu user-mode networking that reaches services on the host's loopback.

    Slirp forwards what the guest sends to `host` (TCP and UDP) to the host's 127.0.0.1 on the same
    port, so a fence emulator listening on 127.0.0.1:PORT answers the guest at host:PORT; guestfwd
    is TCP-only and is not needed for that. The guest gets no default route, so nothing else is
    reachable through this NIC.
    """

    network: str = "169.254.214.0/24"
    host: str = "169.254.214.2"
    address: str = "169.254.214.15/24"

    def netdev(self, netdev_id: str) -> str:
        return f"user,id={netdev_id},net={self.network},host={self.host},ipv6=off,dhcpstart={self.network.rsplit('.', 1)[0]}.100"


@dataclass(frozen=True)
class BridgeNic:
    """A NIC on a tap of the lab's own bridge (lab.vm.netns), where the lab's services listen.

    The guest's qemu runs inside the lab's network namespace and opens the tap there; the bridge
    and its address are in that namespace only, so nothing of this network reaches a host
    interface. No default route: only the bridge's subnet is reachable through it.
    """

    tap: str
    address: str  # "169.254.214.11/24"

    def netdev(self, netdev_id: str) -> str:
        return f"tap,id={netdev_id},ifname={self.tap},script=no,downscript=no"


@dataclass(frozen=True)
class Identity:
    """What makes a guest itself; passed on the kernel command line, applied by lab-identity.service."""

    hostname: str
    hostid: str  # 8 hex digits, as zgenhostid takes it
    iqn: str  # iSCSI initiator name
    hosts: dict[str, str] = field(default_factory=dict)  # /etc/hosts: name -> address

    @classmethod
    def for_name(cls, name: str, hosts: dict[str, str] | None = None) -> Identity:
        hostid = hashlib.sha256(name.encode()).hexdigest()[:8]
        return cls(name, hostid, f"iqn.2024-01.local.lab:{name}", dict(hosts or {}))


class Guest:
    """A qemu guest booted directly from the base image's kernel, with a qcow2 overlay of its own."""

    def __init__(
        self,
        name: str,
        base_image: Image,
        workdir: Path,
        mem: int = 2048,
        cpus: int = 1,
        data_disks: list[tuple[str, int]] | tuple[()] = (),
        nets: list[Nic | HostNic | BridgeNic] | tuple[()] = (),
        kernel_cmdline_identity: Identity | None = None,
        accel: str = DEFAULT_ACCEL,
        netns: LabNetns | None = None,
    ) -> None:
        """data_disks: (serial, size in MiB) pairs, seen in the guest as /dev/disk/by-id/virtio-<serial>.

        netns: run qemu inside that network namespace (required by BridgeNic, whose tap lives there).
        """
        self.name = name
        self.image = base_image
        self.workdir = Path(workdir) / name
        self.mem = mem
        self.cpus = cpus
        self.data_disks = list(data_disks)
        self.nets = list(nets)
        self.identity = kernel_cmdline_identity or Identity.for_name(name)
        self.accel = accel
        if netns is None and any(isinstance(nic, BridgeNic) for nic in self.nets):
            raise ValueError("a BridgeNic's tap lives in the lab's network namespace: pass netns")
        self.netns = netns
        self.process: subprocess.Popen[bytes] | None = None
        self.agent = GuestAgent(self.workdir / "qga.sock")
        self.boots = 0

    # Paths a person debugging the lab looks at.
    @property
    def console_log(self) -> Path:
        return self.workdir / "console.log"

    @property
    def qmp_socket(self) -> Path:
        return self.workdir / "qmp.sock"

    @property
    def serial_socket(self) -> Path:
        return self.workdir / "serial.sock"

    def mac(self, index: int) -> str:
        digest = hashlib.sha256(f"{self.name}/{index}".encode()).digest()
        return "52:54:00:" + ":".join(f"{b:02x}" for b in digest[:3])

    def kernel_cmdline(self) -> str:
        words = [
            "console=ttyS0,115200",
            "root=LABEL=root",
            "rw",
            "quiet",
            "panic=5",
            f"systemd.machine_id={hashlib.md5(self.name.encode()).hexdigest()}",
            f"systemd.hostname={self.identity.hostname}",
            f"lab.hostname={self.identity.hostname}",
            f"lab.hostid={self.identity.hostid}",
            f"lab.iqn={self.identity.iqn}",
        ]
        nets = [f"{self.mac(i)}@{nic.address}" for i, nic in enumerate(self.nets)]
        if nets:
            words.append("lab.net=" + ",".join(nets))
        if self.identity.hosts:
            words.append("lab.hosts=" + ",".join(f"{n}@{a}" for n, a in self.identity.hosts.items()))
        return " ".join(words)

    def qemu_argv(self) -> list[str]:
        argv = [
            QEMU,
            "-name",
            self.name,
            "-machine",
            "pc",
            *ACCEL_ARGS[self.accel],
            "-smp",
            str(self.cpus),
            "-m",
            str(self.mem),
            "-nodefaults",
            "-display",
            "none",
            "-vga",
            "none",
            "-kernel",
            str(self.image.kernel),
            "-initrd",
            str(self.image.initrd),
            "-append",
            self.kernel_cmdline(),
            "-drive",
            f"file={self.workdir / 'root.qcow2'},format=qcow2,if=none,id=root,discard=unmap",
            "-device",
            "virtio-blk-pci,drive=root,serial=root",
            "-qmp",
            f"unix:{self.qmp_socket},server=on,wait=off",
            "-chardev",
            f"socket,id=serial0,path={self.serial_socket},server=on,wait=off,logfile={self.console_log},logappend=on",
            "-serial",
            "chardev:serial0",
            "-chardev",
            f"socket,id=qga0,path={self.agent.path},server=on,wait=off",
            "-device",
            "virtio-serial-pci",
            "-device",
            "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
            "-object",
            "rng-random,id=rng0,filename=/dev/urandom",
            "-device",
            "virtio-rng-pci,rng=rng0",
        ]
        for serial, _size in self.data_disks:
            # Raw files: no qcow2 metadata in qemu's memory, so a SIGKILL loses nothing the guest flushed.
            argv += [
                "-drive",
                f"file={self.workdir / f'data-{serial}.raw'},format=raw,if=none,id=d-{serial}",
                "-device",
                f"virtio-blk-pci,drive=d-{serial},serial={serial}",
            ]
        for index, nic in enumerate(self.nets):
            netdev = nic.segment.netdev(f"n{index}") if isinstance(nic, Nic) else nic.netdev(f"n{index}")
            argv += ["-netdev", netdev, "-device", f"virtio-net-pci,netdev=n{index},mac={self.mac(index)}"]
        return argv

    def _create_disks(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        root = self.workdir / "root.qcow2"
        if not root.exists():
            subprocess.run(
                ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(self.image.disk), str(root)], check=True
            )
        for serial, size_mib in self.data_disks:
            disk = self.workdir / f"data-{serial}.raw"
            if not disk.exists():
                with open(disk, "wb") as data:
                    data.truncate(size_mib << 20)

    def start(self) -> None:
        """Power on: launch qemu (the disks, overlay included, keep their contents across boots)."""
        if self.running:
            return
        self._create_disks()
        for sock in (self.qmp_socket, self.serial_socket, self.agent.path):
            sock.unlink(missing_ok=True)
        with open(self.console_log, "ab") as console:
            console.write(f"\n==== lab: boot {self.boots + 1} of {self.name} ====\n".encode())
        stderr = open(self.workdir / "qemu.stderr", "ab")
        # Own session: a Ctrl-C aimed at pytest must not power the guests off behind the lab's back;
        # but if the process that started qemu dies, qemu dies with it (nothing is left running).
        self.process = subprocess.Popen(
            self.qemu_argv(),
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            start_new_session=True,
            preexec_fn=self.netns.preexec(_die_with_parent) if self.netns else _die_with_parent,
        )
        stderr.close()
        self.boots += 1
        self.agent.close()

    power_on = start

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """Hard power cut: SIGKILL the qemu process; nothing in the guest gets to react."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self.agent.close()

    def stop(self, timeout: float = 60.0) -> None:
        """ACPI power button, then a hard power cut if the guest has not gone down within timeout."""
        if not self.running:
            self.agent.close()
            return
        try:
            qmp = Qmp(self.qmp_socket)
            qmp.execute("system_powerdown")
            qmp.close()
            assert self.process is not None
            self.process.wait(timeout)
        except (OSError, TimeoutError, QemuJsonError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def qmp(self, command: str, arguments: dict | None = None) -> object:
        qmp = Qmp(self.qmp_socket)
        try:
            return qmp.execute(command, arguments)
        finally:
            qmp.close()

    def wait_ready(self, timeout: float = 240.0) -> float:
        """Wait until the guest agent answers and boot-time units are done; returns seconds waited."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            if not self.running:
                raise RuntimeError(f"{self.name}: qemu exited ({self.workdir / 'qemu.stderr'})")
            try:
                self.agent.execute("guest-ping", timeout=min(5.0, max(0.5, deadline - time.monotonic())))
                break
            except (OSError, TimeoutError, ValueError, QemuJsonError):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{self.name}: guest agent silent after {timeout:.0f} s (see {self.console_log})"
                    ) from None
                time.sleep(0.5)
        # The agent starts early; wait for the boot transaction so identity, network and iscsid are up.
        remaining = max(10.0, deadline - time.monotonic())
        self.exec(["systemctl", "is-system-running", "--wait"], timeout=remaining)
        self._wait_addresses(deadline)
        return time.monotonic() - started

    def _wait_addresses(self, deadline: float) -> None:
        """Wait until networkd has put every NIC's address on its link.

        The boot transaction can end before that: networkd applies addresses when the link is up, and
        a link-local (169.254/16) address only after its conflict probes unless those are turned off
        (lab-identity does; an older image still probes for ~7 s). A test that pinged the peer right
        after boot lost that race once in CI.
        """
        wanted = {nic.address.split("/")[0] for nic in self.nets}
        while True:
            shown = self.exec(["ip", "-4", "-o", "addr", "show"], timeout=30).stdout
            # `ip -o` lines: "2: ens4    inet 169.254.210.1/24 ...": the fourth field is the address.
            present = {line.split()[3].split("/")[0] for line in shown.splitlines() if len(line.split()) > 3}
            missing = wanted - present
            if not missing:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: addresses {sorted(missing)} not configured (see {self.console_log})")
            time.sleep(0.5)

    def exec(self, argv: list[str], input: bytes | str | None = None, timeout: float = 120.0, check: bool = False) -> ExecResult:
        """Run argv in the guest (guest-exec, then poll guest-exec-status) and return rc, stdout, stderr.

        The command runs under timeout(1) because guest-exec has no way to kill what it started.
        """
        arguments: dict[str, object] = {
            "path": "/usr/bin/timeout",
            "arg": ["-k", "5", str(int(timeout)), *argv],
            "capture-output": True,
        }
        if input is not None:
            data = input.encode() if isinstance(input, str) else input
            arguments["input-data"] = base64.b64encode(data).decode()
        pid = self.agent.execute("guest-exec", arguments)["pid"]
        deadline = time.monotonic() + timeout + 15
        pause = 0.01
        while True:
            status = self.agent.execute("guest-exec-status", {"pid": pid})
            if status["exited"]:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: {shlex.join(argv)} still running after {timeout} s")
            time.sleep(pause)
            pause = min(pause * 2, 0.25)
        result = ExecResult(
            status.get("exitcode", 128 + status.get("signal", 0)),
            base64.b64decode(status.get("out-data", "")).decode(errors="replace"),
            base64.b64decode(status.get("err-data", "")).decode(errors="replace"),
        )
        if result.rc == 124 and argv[0] != "timeout":
            raise TimeoutError(f"{self.name}: {shlex.join(argv)} timed out after {timeout} s")
        if check and result.rc != 0:
            raise GuestCommandError(f"{self.name}: {shlex.join(argv)} exited {result.rc}: {result.stderr.strip()}")
        return result

    def sh(self, script: str, timeout: float = 120.0, check: bool = True) -> ExecResult:
        """Run a shell script in the guest; raises GuestCommandError on a non-zero exit unless check=False."""
        return self.exec(["/bin/sh", "-c", script], timeout=timeout, check=check)

    def write_file(self, path: str, data: bytes | str, mode: int = 0o644) -> None:
        """Write a file in the guest through guest-file-open/write/close, in 1 MiB chunks."""
        payload = data.encode() if isinstance(data, str) else data
        handle = self.agent.execute("guest-file-open", {"path": path, "mode": "w"})
        try:
            for offset in range(0, len(payload), WRITE_CHUNK) or [0]:
                chunk = payload[offset : offset + WRITE_CHUNK]
                self.agent.execute("guest-file-write", {"handle": handle, "buf-b64": base64.b64encode(chunk).decode()})
        finally:
            self.agent.execute("guest-file-close", {"handle": handle})
        self.exec(["chmod", f"{mode:o}", path], check=True)

    def read_file(self, path: str) -> bytes:
        handle = self.agent.execute("guest-file-open", {"path": path, "mode": "r"})
        content = b""
        try:
            while True:
                chunk = self.agent.execute("guest-file-read", {"handle": handle, "count": WRITE_CHUNK})
                content += base64.b64decode(chunk["buf-b64"])
                if chunk["eof"]:
                    return content
        finally:
            self.agent.execute("guest-file-close", {"handle": handle})

    def __repr__(self) -> str:
        return f"Guest({self.name!r}, running={self.running})"
