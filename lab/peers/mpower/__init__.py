"""Ubiquiti mPower-style SSH power device: a real OpenSSH sshd in front of a busybox-like shell.

Clients log in with a password (`ssh -p PORT ubnt@127.0.0.1`, the fence agent via pexpect),
get the prompt `MF.v2.1.11# ` and switch with `echo 0 > /proc/power/relay1` /
`echo 1 > /proc/power/relay1`, read with `cat /proc/power/relay1` (prints 0 or 1).
A command given on the ssh command line (`ssh ... 'cat /proc/power/relay1'`) runs without a prompt.

How it leaves the host unchanged: sshd runs in its own mount namespace (`unshare --mount`)
where copies of /etc/passwd and /etc/shadow holding the lab user are bind-mounted over the
real ones and a private tmpfs covers /run (for sshd's /run/sshd); its config, host key and
pid-less foreground process live in a temporary directory. The lab user maps to uid/gid
65534 (nobody) and sshd forces every login into shell.py (ForceCommand), with forwarding,
tunnels and user rc files off. Needs root (for the namespace), openssh-server and openssl.
Outlets are the port numbers "1".."n".
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from lab.peers.outlets import PowerBoard

SHELL = Path(__file__).resolve().parent / "shell.py"
LAB_UID = 65534


def free_port(listen: str) -> int:
    """A port free now: sshd cannot bind port 0 and report it, so the peer picks one."""
    with socket.socket() as probe:
        probe.bind((listen, 0))
        return probe.getsockname()[1]


class _DeviceRequests(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        peer: MPowerPeer = self.server.peer  # type: ignore[attr-defined]
        words = self.rfile.readline().decode().split()
        board = peer.board
        reply = "ERR"
        if words == ["PORTS"]:
            reply = str(len(board.names))
        elif len(words) == 2 and words[0] == "HAS":
            reply = "1" if words[1] in board else "0"
        elif len(words) == 2 and words[0] == "GET" and words[1] in board:
            reply = "1" if board.is_on(words[1]) else "0"
        elif len(words) == 3 and words[0] == "SET" and words[1] in board:
            board.set(words[1], words[2] == "1")
            reply = "OK"
        self.wfile.write(reply.encode() + b"\n")


class MPowerPeer:
    """An mPower device behind sshd on listen:port; outlets "1".."n" are relay1..relayN."""

    def __init__(
        self, board: PowerBoard, *, password: str, username: str = "ubnt", listen: str = "127.0.0.1", port: int = 0
    ) -> None:
        for name in board.names:
            if not name.isdigit():
                raise ValueError(f"mPower outlets are port numbers, not {name!r}")
        self.board = board
        self.username = username
        self.password = password
        self.listen = listen
        self.port = port
        self._workdir: Path | None = None
        self._sshd: subprocess.Popen[bytes] | None = None
        self._device_server: socketserver.ThreadingUnixStreamServer | None = None

    @property
    def state(self) -> dict[str, bool]:
        return self.board.snapshot()

    def start(self, timeout: float = 10.0) -> int:
        work = Path(tempfile.mkdtemp(prefix="zfsha-mpower-"))
        self._workdir = work
        work.chmod(0o755)  # the lab user must reach the device socket
        if not self.port:
            self.port = free_port(self.listen)
        self._serve_device(work / "device.sock")
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "host_key")], check=True, capture_output=True
        )
        self._write_accounts(work)
        (work / "sshd_config").write_text(self._sshd_config(work))
        script = (
            'set -e; mount --bind "$1/passwd" /etc/passwd; mount --bind "$1/shadow" /etc/shadow; '
            "mount -t tmpfs -o mode=755 lab-run /run; mkdir -m 755 /run/sshd; "
            'exec /usr/sbin/sshd -D -e -f "$1/sshd_config"'
        )
        self._sshd = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(work)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(work / "sshd.log", "wb"),
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._sshd.poll() is not None:
                log = (work / "sshd.log").read_text(errors="replace")
                self.stop()
                raise RuntimeError(f"sshd exited at start: {log.strip()}")
            try:
                with socket.create_connection((self.listen, self.port), timeout=0.5) as conn:
                    if conn.recv(4).startswith(b"SSH-"):
                        return self.port
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("sshd did not start listening")

    def _serve_device(self, path: Path) -> None:
        server = socketserver.ThreadingUnixStreamServer(str(path), _DeviceRequests)
        server.daemon_threads = True
        server.peer = self  # type: ignore[attr-defined]
        path.chmod(0o666)
        self._device_server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="mpower-device", daemon=True).start()

    def _write_accounts(self, work: Path) -> None:
        hashed = (
            subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=self.password.encode(), check=True, capture_output=True)
            .stdout.decode()
            .strip()
        )
        passwd = Path("/etc/passwd").read_text()
        shadow = Path("/etc/shadow").read_text()
        (work / "passwd").write_text(passwd + f"{self.username}:x:{LAB_UID}:{LAB_UID}:mPower lab:{work}:/bin/sh\n")
        (work / "passwd").chmod(0o644)
        shadow_file = work / "shadow"
        shadow_file.touch(mode=0o600)
        shadow_file.write_text(shadow + f"{self.username}:{hashed}:19000:0:99999:7:::\n")

    def _sshd_config(self, work: Path) -> str:
        return "\n".join(
            [
                f"Port {self.port}",
                f"ListenAddress {self.listen}",
                f"HostKey {work / 'host_key'}",
                "PidFile none",
                "UsePAM no",
                "PasswordAuthentication yes",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication no",
                "PermitEmptyPasswords no",
                "PermitRootLogin no",
                f"AllowUsers {self.username}",
                "MaxAuthTries 3",
                "StrictModes no",
                f"ForceCommand {sys.executable} -I {SHELL} {work / 'device.sock'}",
                "AllowTcpForwarding no",
                "AllowStreamLocalForwarding no",
                "X11Forwarding no",
                "AllowAgentForwarding no",
                "PermitTunnel no",
                "PermitUserRC no",
                "PermitUserEnvironment no",
                "PrintMotd no",
                "PrintLastLog no",
                "LogLevel ERROR",
                "",
            ]
        )

    def stop(self) -> None:
        if self._sshd is not None:
            try:
                os.killpg(self._sshd.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self._sshd.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self._sshd.pid, signal.SIGKILL)
                self._sshd.wait()
            self._sshd = None
        if self._device_server is not None:
            self._device_server.shutdown()
            self._device_server.server_close()
            self._device_server = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        self.board.close()

    def __enter__(self) -> MPowerPeer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
