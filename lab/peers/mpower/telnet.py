"""Ubiquiti mPower-style TELNET power device: BusyBox telnetd and BusyBox login in front of shell.py.

What a client sees is what an mPower (or any BusyBox appliance) shows on port 23: telnet option
negotiation by telnetd, an issue banner, `UBNT login: `, `Password: ` (no echo), then the device shell
of the SSH peer (`MF.v2.1.11# `, `cat /proc/power/relay1`, `echo 0 > /proc/power/relay1`). A wrong
password gets BusyBox's `Login incorrect` (after its ~3 s pause) and a new `login:` prompt.

Both daemons are the real ones from Debian's busybox-static (`busybox telnetd -F -l <login>`, where
<login> is a `login` symlink to busybox). The dynamic `busybox` package lacks telnetd.
How it leaves the host unchanged, as the SSH peer does: everything runs under `unshare --mount --uts
--pid`, where account files holding only the lab user (uid/gid 65534) are
bind-mounted over the real ones, tmpfs covers /run (utmp) and /var/log (wtmp, lastlog), an empty
file covers /etc/motd and the host name is the device's. The lab user's login shell is a two-line
script that execs shell.py on the peer's device socket. Needs root, busybox-static, openssl, unshare.

Stopping kills the namespace: telnetd is the namespace's init, which ignores SIGTERM from outside
(and `unshare --fork` ignores it too), so the peer sends SIGKILL to the group; with `--kill-child`
and the pid namespace, every login and shell of the device dies with it and nothing is left behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lab.peers import cli
from lab.peers.mpower import LAB_UID, SHELL, MPowerPeer, free_port
from lab.peers.outlets import PowerBoard

BUSYBOX = "/bin/busybox"
ISSUE = "\nUbiquiti mPower\n"
IAC = 0xFF
# A pid namespace whose init (telnetd) takes every login and shell with it when the peer is killed.
NAMESPACES = ("--mount", "--propagation", "private", "--uts", "--pid", "--fork", "--kill-child")


def busybox_has_telnetd(busybox: str = BUSYBOX) -> bool:
    """True when this busybox carries the telnetd and login applets (busybox-static does, busybox does not)."""
    if not os.access(busybox, os.X_OK):
        return False
    listed = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=False).stdout.split()
    return {"telnetd", "login"} <= set(listed)


class MPowerTelnetPeer(MPowerPeer):
    """An mPower device behind BusyBox telnetd on listen:port; outlets "1".."n" are relay1..relayN."""

    def __init__(
        self,
        board: PowerBoard,
        *,
        password: str,
        username: str = "ubnt",
        listen: str = "127.0.0.1",
        port: int = 0,
        hostname: str = "UBNT",
    ) -> None:
        super().__init__(board, password=password, username=username, listen=listen, port=port)
        self.hostname = hostname
        self._telnetd: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> int:
        if not busybox_has_telnetd():
            raise RuntimeError(f"{BUSYBOX} has no telnetd/login applets: install busybox-static")
        work = Path(tempfile.mkdtemp(prefix="zfsha-mpower-telnet-"))
        self._workdir = work
        work.chmod(0o755)  # the lab user must reach the device socket and its login shell
        if not self.port:
            self.port = free_port(self.listen)
        self._serve_device(work / "device.sock")
        self._write_device_files(work)
        self._write_accounts(work)
        script = (
            'set -e; mount --bind "$1/passwd" /etc/passwd; mount --bind "$1/shadow" /etc/shadow; '
            "mount -t tmpfs -o mode=755 lab-run /run; mount -t tmpfs -o mode=755 lab-log /var/log; "
            'if [ -e /etc/motd ]; then mount --bind "$1/motd" /etc/motd; fi; hostname "$2"; '
            f'exec {BUSYBOX} telnetd -F -b "$3" -p "$4" -l "$1/login" -f "$1/issue"'
        )
        self._telnetd = subprocess.Popen(
            ["unshare", *NAMESPACES, "sh", "-c", script, "sh", str(work), self.hostname, self.listen, str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(work / "telnetd.log", "wb"),
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._telnetd.poll() is not None:
                log = (work / "telnetd.log").read_text(errors="replace")
                self.stop()
                raise RuntimeError(f"telnetd exited at start: {log.strip()}")
            try:
                with socket.create_connection((self.listen, self.port), timeout=0.5) as conn:
                    # telnetd opens every connection with its option negotiation (IAC DO/WILL ...).
                    if conn.recv(1)[:1] == bytes([IAC]):
                        return self.port
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("telnetd did not start listening")

    def _write_device_files(self, work: Path) -> None:
        (work / "login").symlink_to(BUSYBOX)  # busybox picks the applet from argv[0]
        (work / "issue").write_text(ISSUE)
        (work / "motd").write_text("")
        login_shell = work / "shell"
        login_shell.write_text(f"#!/bin/sh\nexec {sys.executable} -I {SHELL} {work / 'device.sock'}\n")
        login_shell.chmod(0o755)

    def _write_accounts(self, work: Path) -> None:
        # Only the lab user can log in: unlike sshd (AllowUsers), login has no allow list, so the
        # namespace's account files hold no host account at all.
        hashed = (
            subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=self.password.encode(), check=True, capture_output=True)
            .stdout.decode()
            .strip()
        )
        (work / "passwd").write_text(f"{self.username}:x:{LAB_UID}:{LAB_UID}:mPower lab:{work}:{work / 'shell'}\n")
        (work / "passwd").chmod(0o644)
        shadow_file = work / "shadow"
        shadow_file.touch(mode=0o600)
        shadow_file.write_text(f"{self.username}:{hashed}:19000:0:99999:7:::\n")

    def stop(self) -> None:
        if self._telnetd is not None:
            try:
                os.killpg(self._telnetd.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._telnetd.wait()
            self._telnetd = None
        super().stop()

    def __enter__(self) -> MPowerTelnetPeer:
        self.start()
        return self


def main() -> None:
    """`python3 -m lab.peers.mpower.telnet --port N --ports 3 --credentials-file F` (password=, username=)"""
    parser = cli.parser("Ubiquiti mPower-style TELNET power device (BusyBox telnetd and login, busybox-like shell)")
    parser.add_argument("--ports", type=int, default=3, help="relay count when no --outlet is given")
    parser.add_argument("--hostname", default="UBNT", help="the name in the login prompt")
    args = parser.parse_args()
    outlets = cli.outlets_from_args(args, [str(n) for n in range(1, args.ports + 1)])
    credentials = cli.credentials_from_args(args)
    if "password" not in credentials:
        raise SystemExit("the mPower telnet peer needs --credentials-file with password=")
    cli.serve(
        MPowerTelnetPeer(
            PowerBoard(outlets),
            password=credentials["password"],
            username=credentials.get("username", "ubnt"),
            listen=args.listen,
            port=args.port,
            hostname=args.hostname,
        )
    )


if __name__ == "__main__":
    main()
