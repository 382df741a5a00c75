"""Linux initiator: open-iscsi's iscsiadm(8), udev settle, /dev/disk/by-path names.

CHAP secrets never go on a command line (iscsiadm -o update -v would put them in argv): they are
written into the node record, which iscsiadm reads at login, as a private file.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

from zfsha import run
from zfsha.deadline import Deadline
from zfsha.errors import CommandFailed
from zfsha.iscsi import Chap, Session, Target
from zfsha.platform import host_path

# Where iscsiadm keeps node records (Debian; RHEL uses /var/lib/iscsi).
NODE_DIRS = ("/etc/iscsi/nodes", "/var/lib/iscsi/nodes")
BY_PATH = "/dev/disk/by-path"
SYS_BLOCK = "/sys/class/block"
# iscsiadm exit status: a session to this target already exists.
ISCSI_ERR_SESS_EXISTS = 15
ISCSI_ERR_NO_OBJS_FOUND = 21


class OpenIscsi:
    tool = "iscsiadm"

    def sessions(self) -> list[Session]:
        result = run.run(["iscsiadm", "-m", "session", "-P", "1"], check=False, timeout=10)
        if result.returncode == ISCSI_ERR_NO_OBJS_FOUND:
            return []
        if result.returncode != 0:
            raise CommandFailed(f"iscsiadm -m session failed: {result.stderr.strip()}", result.argv, result.returncode)
        return parse_sessions(result.stdout)

    def login(self, target: Target, chap: Chap | None, timeout: float) -> None:
        budget = Deadline(timeout)
        node = ["iscsiadm", "-m", "node", "-T", target.iqn, "-p", target.portal]
        if run.run(node, check=False, timeout=budget.cap(10)).returncode != 0:
            run.run(["iscsiadm", "-m", "discovery", "-t", "sendtargets", "-p", target.portal], timeout=budget.cap(15))
        if chap is not None:
            self._write_chap(target, chap)
        result = run.run([*node, "--login"], check=False, timeout=budget.cap(30))
        if result.returncode not in (0, ISCSI_ERR_SESS_EXISTS):
            detail = " ".join(result.stderr.split()) or f"exit {result.returncode}"
            raise CommandFailed(f"login to {target} failed: {detail}", result.argv, result.returncode, result.stderr)

    def settle(self, timeout: float) -> None:
        run.run(["udevadm", "settle", f"--timeout={max(1, int(timeout))}"], check=False, timeout=timeout + 2)

    def device_paths(self, target: Target) -> list[str]:
        # udev's path_id names iSCSI LUNs ip-<portal>-iscsi-<iqn>-lun-<n> in by-path.
        directory = host_path(BY_PATH)
        pattern = os.path.join(directory, f"ip-{glob.escape(target.portal)}-iscsi-{glob.escape(target.iqn)}-lun-*")
        found = sorted(path for path in glob.glob(pattern) if not re.search(r"-part\d+$", path))
        return [BY_PATH + path[len(directory) :] for path in found]

    def rename_devices(self, target: Target, timeout: float) -> list[str]:
        # udev makes by-partlabel/by-uuid names from what blkid reads. A change event handled while
        # the session was down (ZFS closing a leg it had opened for writing makes one) finds nothing
        # and removes them, and a returning session makes no event: the leg's name stays gone (seen
        # in the lab, tests/lab/test_san_cluster.py scenario 7). A change event for the disk and each
        # of its partitions names them again; the disk's by-path name, made from sysfs alone, stays.
        devices: list[str] = []
        for link in self.device_paths(target):
            disk = os.path.basename(os.path.realpath(host_path(link)))
            devices.append(f"/dev/{disk}")
            directory = host_path(f"{SYS_BLOCK}/{disk}")
            try:
                children = sorted(os.listdir(directory))
            except OSError:
                continue
            devices += [f"/dev/{name}" for name in children if os.path.exists(os.path.join(directory, name, "partition"))]
        if devices:
            budget = Deadline(timeout)
            run.run(["udevadm", "trigger", "--action=change", *devices], timeout=budget.cap(10))
            self.settle(budget.cap(10) or 1.0)
        return devices

    def slow_failure(self, target: Target, max_seconds: int) -> str | None:
        result = run.run(["iscsiadm", "-m", "node", "-T", target.iqn, "-p", target.portal], check=False, timeout=10)
        if result.returncode != 0:
            return None  # no node record yet: checked again once discovery created it
        value = parse_record(result.stdout).get("node.session.timeo.replacement_timeout")
        if value is None or not value.isdigit() or int(value) <= max_seconds:
            return None
        return (
            f"{target}: node.session.timeo.replacement_timeout is {value}s, so a dead peer hangs pool I/O that long; "
            f"set it to {max_seconds} (iscsiadm -m node -T {target.iqn} -p {target.portal} -o update "
            f"-n node.session.timeo.replacement_timeout -v {max_seconds}, and in /etc/iscsi/iscsid.conf)"
        )

    def _write_chap(self, target: Target, chap: Chap) -> None:
        # Records live in nodes/<iqn>/<address>,<port>,<tpgt>[/default] (iscsiadm(8) FILES).
        address, _, port = target.portal.rpartition(":")
        record_dir = f"{glob.escape(address.strip('[]'))},{glob.escape(port)},*"
        for base in NODE_DIRS:
            found = glob.glob(os.path.join(host_path(base), glob.escape(target.iqn), record_dir))
            for record in sorted(found):
                path = Path(record) / "default" if Path(record).is_dir() else Path(record)
                if path.is_file():
                    set_record_values(
                        path,
                        {
                            "node.session.auth.authmethod": "CHAP",
                            "node.session.auth.username": chap.user,
                            "node.session.auth.password": chap.secret,
                        },
                    )
                    return
        raise CommandFailed(f"no iscsiadm node record for {target} to put its CHAP credentials in", ("iscsiadm",), None)


def parse_sessions(text: str) -> list[Session]:
    """`iscsiadm -m session -P 1`: Target lines, their Persistent Portal and iSCSI Session State."""
    sessions: list[Session] = []
    iqn = portal = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("Target:"):
            iqn = stripped.split()[1]
        elif stripped.startswith("Persistent Portal:") or (stripped.startswith("Current Portal:") and not portal):
            portal = stripped.split(":", 1)[1].strip().rsplit(",", 1)[0]
        elif stripped.startswith("iSCSI Session State:") and iqn:
            sessions.append(Session(Target(iqn, portal), stripped.split(":", 1)[1].strip()))
            portal = ""
    return sessions


def parse_record(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(" = ")
        if sep:
            values[key.strip()] = value.strip()
    return values


def set_record_values(path: Path, updates: dict[str, str]) -> None:
    """Rewrite key = value lines of a node record, private to root (it may now hold a secret)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    pending = dict(updates)
    for index, line in enumerate(lines):
        key = line.partition(" = ")[0].strip()
        if key in pending:
            lines[index] = f"{key} = {pending.pop(key)}"
    lines.extend(f"{key} = {value}" for key, value in pending.items())
    temporary = path.with_name(path.name + ".zfsha")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write("\n".join(lines) + "\n")
    os.replace(temporary, path)
