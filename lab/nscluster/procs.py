"""What /proc says about processes: liveness, names, and which namespaces they are in."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path


def is_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a dead node's init may linger unreaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # The state field follows the parenthesised command name, which may hold spaces.
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def namespace(pid: int, kind: str) -> str | None:
    """E.g. 'net:[4026532281]' for kind 'net'; None when the process is gone."""
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def netns_id(path: str | os.PathLike[str]) -> str | None:
    """The identity of a named network namespace file, in the form /proc/PID/ns/net shows."""
    try:
        return f"net:[{os.stat(path).st_ino}]"
    except FileNotFoundError:
        return None


def all_pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def pids_in_namespaces(kind: str, ids: Iterable[str]) -> list[int]:
    wanted = set(ids)
    own = os.getpid()
    return [pid for pid in all_pids() if pid != own and namespace(pid, kind) in wanted]


def kill_and_wait(pids: Iterable[int], sig: int = signal.SIGKILL, timeout: float = 5.0) -> list[int]:
    """Signal every pid, wait until they are gone; returns the ones still alive."""
    pending = list(pids)
    for pid in pending:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    return wait_gone(pending, timeout)


def wait_gone(pids: Iterable[int], timeout: float) -> list[int]:
    pending = list(pids)
    deadline = time.monotonic() + timeout
    while True:
        pending = [pid for pid in pending if is_alive(pid)]
        if not pending or time.monotonic() >= deadline:
            return pending
        time.sleep(0.05)
