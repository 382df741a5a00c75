"""FreeBSD initiator: iscsictl(8) sessions, kern.iscsi.fail_on_disconnection, da(4) disks.

CHAP secrets never go on a command line (`iscsictl -A -s` would put them in argv): the target is
described in a private iscsi.conf(5) file and added by nickname (`iscsictl -A -c FILE -n NICK`).
"""

from __future__ import annotations

import os
import re

from zfsha import run
from zfsha.iscsi import Chap, Session, Target
from zfsha.platform import run_dir


class Iscsictl:
    tool = "iscsictl"

    def sessions(self) -> list[Session]:
        result = run.run(["iscsictl", "-L"], timeout=10)
        return parse_sessions(result.stdout)

    def login(self, target: Target, chap: Chap | None, timeout: float) -> None:
        if any(s.target == target for s in self.sessions()):
            return  # iscsictl -A would add a second session for the same target
        if chap is None:
            run.run(["iscsictl", "-A", "-p", target.portal, "-t", target.iqn], timeout=timeout)
            return
        nickname = re.sub(r"[^A-Za-z0-9]", "_", str(target))
        conf = run_dir() / f"iscsi-{nickname}.conf"
        descriptor = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(
                f"{nickname} {{\n\tTargetAddress = {target.portal}\n\tTargetName = {target.iqn}\n"
                f'\tAuthMethod = CHAP\n\tchapIName = "{chap.user}"\n\tchapSecret = "{chap.secret}"\n}}\n'
            )
        run.run(["iscsictl", "-A", "-c", str(conf), "-n", nickname], timeout=timeout)

    def settle(self, timeout: float) -> None:
        # CAM attaches da(4) devices as the session reports LUNs; there is no udev queue to drain.
        return None

    def device_paths(self, target: Target) -> list[str]:
        for session in self.sessions():
            if session.target == target:
                return [f"/dev/{name}" for name in session.devices]
        return []

    def rename_devices(self, target: Target, timeout: float) -> list[str]:
        # A returning session attaches new da(4) devices, and GEOM tastes every new provider: its
        # labels are made from the disk as it is now, with nothing stale left to name again.
        return []

    def slow_failure(self, target: Target, max_seconds: int) -> str | None:
        result = run.run(["sysctl", "-n", "kern.iscsi.fail_on_disconnection"], check=False, timeout=5)
        if result.returncode == 0 and result.stdout.strip() == "1":
            return None
        return (
            "kern.iscsi.fail_on_disconnection is not 1, so a dead peer's disks hang pool I/O instead of failing; "
            "set kern.iscsi.fail_on_disconnection=1 in /etc/sysctl.conf and with sysctl(8)"
        )


def parse_sessions(text: str) -> list[Session]:
    """`iscsictl -L`: Target name, Target portal, State ('Connected: da1 da2' when usable)."""
    sessions: list[Session] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3 or fields[0] == "Target":
            continue
        iqn, portal, state = fields[0], fields[1], " ".join(fields[2:])
        if ":" not in portal.strip("[]").rsplit("]", 1)[-1]:
            portal = f"{portal}:3260"
        connected = state.startswith("Connected")
        devices = tuple(state.split(":", 1)[1].split()) if connected and ":" in state else ()
        sessions.append(Session(Target(iqn, portal), "LOGGED_IN" if connected else state.upper(), devices))
    return sessions
