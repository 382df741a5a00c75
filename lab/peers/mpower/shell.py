"""The device side of the mPower peer: a busybox-like shell an SSH login lands in.

Runs as sshd's ForceCommand for the lab user, so it must stay standard-library only and
runnable by path. It holds no state: every /proc/power read or write goes over a Unix socket
to the peer process (lab.peers.mpower), which keeps the relays and runs the power hooks.
Understood: `cat /proc/power/<file><n>` for relay, active_pwr, v_rms, i_rms, pf, and
`echo 0|1 > /proc/power/relay<n>`; `ls /proc/power`; `exit`; anything else is "not found".
"""

from __future__ import annotations

import os
import re
import socket
import sys

PROMPT = "MF.v2.1.11# "
_ECHO = re.compile(r"^echo\s+(\S+)\s*>\s*(\S+)$")
_CAT = re.compile(r"^cat\s+(\S+)$")
_POWER_FILE = re.compile(r"^/proc/power/(relay|active_pwr|v_rms|i_rms|pf)(\d+)$")


class Device:
    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path

    def ask(self, request: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(self.socket_path)
            conn.sendall(request.encode() + b"\n")
            return conn.makefile().readline().strip()


def run_line(device: Device, line: str, out) -> bool:
    """Run one command line; False when the session should end."""
    line = line.strip()
    if not line:
        return True
    if line in ("exit", "logout"):
        return False
    if line in ("ls /proc/power", "ls /proc/power/"):
        ports = int(device.ask("PORTS"))
        names = [f"{kind}{n}" for n in range(1, ports + 1) for kind in ("active_pwr", "i_rms", "pf", "relay", "v_rms")]
        out.write("  ".join(sorted(names)) + "\n")
        return True
    echo, cat = _ECHO.match(line), _CAT.match(line)
    target = (echo or cat).group(2 if echo else 1) if (echo or cat) else None
    if target is None:
        out.write(f"-sh: {line.split()[0]}: not found\n")
        return True
    power_file = _POWER_FILE.match(target)
    if power_file is None or device.ask(f"HAS {power_file.group(2)}") != "1":
        out.write(f"{'sh' if echo else 'cat'}: can't open '{target}': No such file or directory\n")
        return True
    kind, port = power_file.groups()
    if echo:
        if kind != "relay":
            out.write("sh: write error: Permission denied\n")
        elif echo.group(1) in ("0", "1"):
            device.ask(f"SET {port} {echo.group(1)}")
        else:
            out.write("sh: write error: Invalid argument\n")
        return True
    on = device.ask(f"GET {port}") == "1"
    readings = {
        "relay": "1" if on else "0",
        "active_pwr": "42.123456789" if on else "0.0",
        "v_rms": "230.512345678",
        "i_rms": "0.183456789" if on else "0.0",
        "pf": "0.995000000" if on else "0.0",
    }
    out.write(readings[kind] + "\n")
    return True


def main() -> int:
    device = Device(sys.argv[1])
    command = os.environ.get("SSH_ORIGINAL_COMMAND")
    if command:
        for part in command.split(";"):
            run_line(device, part, sys.stdout)
        return 0
    out = sys.stdout
    out.write(
        "\n\nBusyBox v1.11.2 (2016-06-29 10:33:04 PDT) built-in shell (ash)\nEnter 'help' for a list of built-in commands.\n\n"
    )
    while True:
        out.write(PROMPT)
        out.flush()
        line = sys.stdin.readline()
        if not line or not run_line(device, line, out):
            out.write("\n" if not line else "")
            out.flush()
            return 0
        out.flush()


if __name__ == "__main__":
    sys.exit(main())
