"""What a pool's on-disk labels say while it is not imported here, read with `zdb -l -u`.

The pool agent asks them one question before a forced import: will ZFS's multihost activity check
guard it? `zpool import -f` of a pool that another host still writes to is refused only by that
check, and ZFS runs it only when the best uberblock says multihost was on when it was written
(OpenZFS spa_activity_check_required: an uberblock with MMP's magic and an mmp_delay of 0 was
written with multihost=off, and no check runs). ZFS's refusal of a plain import reads the same for a
crashed holder and for a live holder of a multihost=off pool, so only the uberblock can tell them
apart before it is too late.

The best uberblock is ZFS's own choice (vdev_uberblock_compare): the highest txg, then the latest
timestamp, then the highest MMP sequence, over every label of every leg read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MMP_MAGIC = 0xA11CEA11
# zpool state in a label (sys/fs/zfs.h pool_state_t)
POOL_STATE_ACTIVE = 0
POOL_STATE_EXPORTED = 1

# zdb's label dump: top-level nvpairs at an indent of 4 ("    name: 'tank'").
_PAIR = re.compile(r"^    (?P<key>[a-z_]+): (?P<value>.*)$")
_UBERBLOCK = re.compile(r"^\s*Uberblock\[\d+\]")
_FIELD = re.compile(r"^\s+(?P<key>[a-z_]+) = (?P<value>\S+)")


@dataclass(frozen=True)
class Uberblock:
    txg: int
    timestamp: int
    mmp_magic: int
    mmp_delay: int | None  # zdb prints it only when the MMP magic is valid
    mmp_seq: int = 0

    @property
    def order(self) -> tuple[int, int, int]:
        return (self.txg, self.timestamp, self.mmp_seq)

    @property
    def multihost(self) -> bool | None:
        """Whether the writer had multihost on; None when the uberblock carries no MMP fields."""
        if self.mmp_magic != MMP_MAGIC or self.mmp_delay is None:
            return None
        return self.mmp_delay != 0


@dataclass(frozen=True)
class DeviceLabel:
    device: str
    pool: str
    pool_guid: int
    state: int
    txg: int
    hostid: int
    hostname: str
    uberblocks: tuple[Uberblock, ...]


def _int(text: str, base: int = 10) -> int | None:
    try:
        return int(text, base)
    except ValueError:
        return None


def parse_zdb_label(text: str, device: str) -> DeviceLabel | None:
    """One device's `zdb -l -u` output; None when it holds no readable ZFS label."""
    pairs: dict[str, str] = {}
    uberblocks: list[Uberblock] = []
    fields: dict[str, str] | None = None

    def close_uberblock() -> None:
        if fields is None:
            return
        txg, timestamp = _int(fields.get("txg", "")), _int(fields.get("timestamp", ""))
        magic = _int(fields.get("mmp_magic", "0"), 16)
        if txg is None or timestamp is None or magic is None:
            return
        delay = _int(fields["mmp_delay"]) if "mmp_delay" in fields else None
        uberblocks.append(Uberblock(txg, timestamp, magic, delay, _int(fields.get("mmp_seq", "0")) or 0))

    for line in text.splitlines():
        if _UBERBLOCK.match(line):
            close_uberblock()
            fields = {}
            continue
        if fields is not None:
            match = _FIELD.match(line)
            if match:
                fields.setdefault(match.group("key"), match.group("value"))
                continue
            if line.strip() and not line.startswith(("\t", "        ")):
                close_uberblock()
                fields = None
        match = _PAIR.match(line)
        if match and match.group("key") not in pairs:  # the first label's pairs (later labels repeat them)
            pairs[match.group("key")] = match.group("value").strip("'")
    close_uberblock()
    name, guid, state = pairs.get("name"), _int(pairs.get("pool_guid", "")), _int(pairs.get("state", ""))
    if not name or guid is None or state is None:
        return None
    return DeviceLabel(
        device=device,
        pool=name,
        pool_guid=guid,
        state=state,
        txg=_int(pairs.get("txg", "0")) or 0,
        hostid=_int(pairs.get("hostid", "0")) or 0,
        hostname=pairs.get("hostname", ""),
        uberblocks=tuple(uberblocks),
    )


@dataclass(frozen=True)
class OnDisk:
    """The newest state of one pool across the labels read from its legs."""

    pool: str
    state: int
    hostid: int
    hostname: str
    best: Uberblock | None
    devices: tuple[str, ...]

    @property
    def multihost(self) -> bool | None:
        return self.best.multihost if self.best is not None else None

    def holder(self) -> str:
        """'host (hostid 0x...)' for exit reasons, like ImportRefusal.holder()."""
        return f"{self.hostname or 'an unknown host'} (hostid 0x{self.hostid:x})"


def on_disk(pool: str, labels: Iterable[DeviceLabel]) -> OnDisk | None:
    """The pool's newest on-disk state; None when no label names it. Two pools of one name: the one
    whose labels were written last (ZFS would ask for the pool's guid)."""
    mine = [label for label in labels if label.pool == pool]
    if not mine:
        return None
    newest = max(mine, key=lambda label: label.txg)
    legs = [label for label in mine if label.pool_guid == newest.pool_guid]
    uberblocks = [uberblock for label in legs for uberblock in label.uberblocks]
    best = max(uberblocks, key=lambda uberblock: uberblock.order) if uberblocks else None
    return OnDisk(pool, newest.state, newest.hostid, newest.hostname, best, tuple(label.device for label in legs))


# What the labels let the pool agent do when force_import is set.
FORCE = "force"  # another host had it imported, never exported it, and had multihost on: -f is guarded
PLAIN = "plain"  # exported, or last imported by this host: a plain import is enough
UNGUARDED = "unguarded"  # another host had it imported with multihost off: nothing would guard -f
UNKNOWN = "unknown"  # no label (or no MMP fields) to tell


def force_verdict(state: OnDisk | None, my_hostid: int) -> str:
    if state is None:
        return UNKNOWN
    if state.state != POOL_STATE_ACTIVE or state.hostid == my_hostid:
        return PLAIN
    multihost = state.multihost
    if multihost is None:
        return UNKNOWN
    return FORCE if multihost else UNGUARDED
