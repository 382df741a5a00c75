"""One ZFS pool, with what an admin does to it: import_, export, health, status, online, clear."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zfsha.errors import CommandFailed, GenericError
from zfsha.platform import Platform

if TYPE_CHECKING:
    from zfsha.run import Completed
    from zfsha.zpool.labels import OnDisk
    from zfsha.zpool.refusal import ImportRefusal
    from zfsha.zpool.status import PoolStatus

# Bound of a quick query when the action's deadline leaves more (a stuck zpool must not eat it all).
QUERY_SECONDS = 15.0
# OpenZFS release whose zpool status has -j (JSON output).
JSON_STATUS_SINCE = (2, 3)


def _run(argv: Sequence[str], **options: Any) -> Completed:
    """zfsha.run, imported on first use: the lock-free health read needs no subprocess machinery."""
    from zfsha import run

    return run.run(argv, **options)


class ImportRefused(GenericError):
    """zpool import said no; the refusal says why (and which host holds the pool)."""

    def __init__(self, refusal: ImportRefusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


@dataclass(frozen=True)
class Dataset:
    name: str
    mounted: bool
    canmount: str
    mountpoint: str

    @property
    def should_mount(self) -> bool:
        return self.canmount == "on" and self.mountpoint not in ("none", "legacy", "-")


class Pool:
    def __init__(self, name: str, platform: Platform) -> None:
        self.name = name
        self.platform = platform

    def health(self) -> str:
        """The pool's health word, or "" when it is not imported here.

        The kstat state file first (no lock, no process); `zpool list` only where that is missing.
        """
        state = self.platform.pool_state(self.name)
        if state is not None:
            return state
        result = _run(["zpool", "list", "-H", "-o", "health", self.name], check=False, timeout=QUERY_SECONDS)
        if result.returncode == 0:
            return result.stdout.strip()
        if "no such pool" in result.stderr or "modules are not loaded" in result.stderr:
            return ""  # without the zfs module nothing can be imported here
        raise CommandFailed(f"zpool list {self.name} failed: {' '.join(result.stderr.split())}", result.argv, result.returncode)

    def status(self, timeout: float = QUERY_SECONDS) -> PoolStatus:
        """`zpool status` as JSON where OpenZFS has -j (2.3+), as text otherwise (2.1).

        Where the module's version is known (Linux: sysfs), a ZFS without -j is not asked for it:
        the refused call costs a process start, seconds under emulation, inside a monitor's deadline.
        """
        from zfsha.zpool.status import parse_json, parse_text

        version = self.platform.zfs_module_version()
        if version is None or version >= JSON_STATUS_SINCE:
            result = _run(["zpool", "status", "-j", "--json-int", "-P", self.name], check=False, timeout=timeout)
            if result.returncode == 0:
                import json

                return parse_json(json.loads(result.stdout), self.name)
        result = _run(["zpool", "status", "-P", "-p", self.name], timeout=timeout)
        return parse_text(result.stdout, self.name)

    def get(self, prop: str) -> str:
        result = _run(["zpool", "get", "-H", "-p", "-o", "value", prop, self.name], timeout=QUERY_SECONDS)
        return result.stdout.strip()

    def import_(self, device_dirs: Sequence[str], *, mount: bool, force: bool) -> None:
        """Import from the given directories, temporarily (cachefile=none: Pacemaker decides at boot)."""
        argv = ["zpool", "import"]
        for directory in device_dirs:
            argv += ["-d", directory]
        argv += ["-o", "cachefile=none"]
        if not mount:
            argv.append("-N")
        if force:
            argv.append("-f")
        argv.append(self.name)
        result = _run(argv, check=False)
        if result.returncode != 0:
            from zfsha.zpool.refusal import parse_refusal

            raise ImportRefused(parse_refusal(result.stderr or result.stdout))

    def on_disk(self, device_dirs: Sequence[str]) -> OnDisk | None:
        """What the labels on the pool's legs in these directories say (`zdb -l -u` of each leg),
        for a pool not imported here; None when no leg there carries its label."""
        from zfsha.zpool.labels import on_disk, parse_zdb_label

        labels = []
        for device in self.platform.label_devices(self.name, device_dirs):
            result = _run(["zdb", "-l", "-u", device], check=False, timeout=QUERY_SECONDS)
            label = parse_zdb_label(result.stdout, device)
            if label is not None:
                labels.append(label)
        return on_disk(self.name, labels)

    def export(self, *, force: bool, timeout: float | None) -> None:
        _run(["zpool", "export", *(["-f"] if force else []), self.name], timeout=timeout)

    def online(self, device: str) -> None:
        _run(["zpool", "online", self.name, device], timeout=QUERY_SECONDS)

    def clear(self, device: str | None = None) -> None:
        _run(["zpool", "clear", self.name, *([device] if device else [])], timeout=QUERY_SECONDS)

    def datasets(self) -> list[Dataset]:
        result = _run(
            ["zfs", "list", "-H", "-p", "-o", "name,mounted,canmount,mountpoint", "-t", "filesystem", "-r", self.name],
            timeout=QUERY_SECONDS,
        )
        return parse_datasets(result.stdout)

    def mount_all(self) -> None:
        for dataset in self.datasets():
            if dataset.should_mount and not dataset.mounted:
                _run(["zfs", "mount", dataset.name], timeout=QUERY_SECONDS)


def parse_datasets(text: str) -> list[Dataset]:
    datasets: list[Dataset] = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) >= 4:
            datasets.append(Dataset(fields[0], fields[1] == "yes", fields[2], fields[3]))
    return datasets
