"""The pool agent's judgements, as pure functions of what was read (so they are tested on captures)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from zfsha.platform import MultihostTunables
from zfsha.zpool.status import Leg, PoolStatus

# Leg states a returning device can be brought back from. OFFLINE is an admin's decision: left alone.
RECOVERABLE_STATES = frozenset({"UNAVAIL", "FAULTED", "REMOVED", "DEGRADED"})
# Seconds added to the floor of a start: login, settle, the import itself, mounting.
START_OVERHEAD_SECONDS = 15


def start_seconds_needed(tunables: MultihostTunables, device_wait: int, force_import: bool) -> float:
    """How long a start may take: device wait, plus one activity check per import attempt. With
    force_import a crashed holder's pool is imported with -f at once (one check) when its labels can
    be read before; when they can be read only after a refused plain import, that costs a second."""
    checks = 2 if force_import else 1
    return device_wait + checks * tunables.activity_check_seconds + START_OVERHEAD_SECONDS


def start_timeout_problem(
    start_timeout: float | None, tunables: MultihostTunables, device_wait: int, force_import: bool
) -> str | None:
    needed = start_seconds_needed(tunables, device_wait, force_import)
    if start_timeout is not None and start_timeout >= needed:
        return None
    shown = "not set (Pacemaker's default is 20s)" if start_timeout is None else f"{start_timeout:g}s"
    return (
        f"start timeout {shown} is shorter than the {needed:g}s a start may need (device_wait {device_wait}s + "
        f"{2 if force_import else 1} x multihost activity check {tunables.activity_check_seconds:g}s "
        f"[zfs_multihost_interval {tunables.interval_ms}ms x zfs_multihost_import_intervals {tunables.import_intervals}] "
        f"+ {START_OVERHEAD_SECONDS}s); set op start timeout={int(needed + 0.999)}s"
    )


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|msec|s|sec|m|min|h|hr)?\s*$")


def parse_duration(text: str) -> float | None:
    """Pacemaker's interval/timeout spellings: '150', '150s', '2min', '1500ms', '1h'."""
    match = _DURATION.match(text)
    if not match:
        return None
    scale = {"ms": 0.001, "msec": 0.001, "m": 60, "min": 60, "h": 3600, "hr": 3600}.get(match.group(2) or "s", 1)
    return float(match.group(1)) * scale


def start_timeout_in(resource_xml: str) -> float | None:
    """The start op timeout in `crm_resource --resource R --query-xml` output; None when unset."""
    import xml.etree.ElementTree as ElementTree

    start = resource_xml.find("<")
    if start < 0:
        return None
    try:
        root = ElementTree.fromstring(resource_xml[start:])
    except ElementTree.ParseError:
        return None
    for op in root.iter("op"):
        if op.get("name") == "start" and op.get("timeout"):
            return parse_duration(op.get("timeout", ""))
    return None


# Pacemaker keeps 128 bytes of an exit reason: the reason is compact, the log has every path.
EXIT_REASON_BYTES = 128


def pool_not_found_reason(pool: str, device_dirs: Sequence[str]) -> str:
    """zpool import's "no such pool available", said whole in one exit reason: where it looked."""
    reason = f"pool {pool} not found among devices in {' '.join(device_dirs)}"
    if len(reason.encode()) <= EXIT_REASON_BYTES:
        return reason
    return f"pool {pool} not found among devices in the {len(device_dirs)} device_dirs directories"


_ISCSI_NAME = re.compile(r"ip-(?P<portal>.+)-iscsi-(?P<iqn>.+)-lun-(?P<lun>\d+)(?:-part\d+)?$")


def short_leg_names(legs: tuple[Leg, ...] | list[Leg]) -> str:
    """'iqn.x:storage-b lun 0,1' for a peer's iSCSI LUNs, the last path element for other devices."""
    return short_path_names([leg.path for leg in legs])


def short_path_names(paths: Iterable[str]) -> str:
    """short_leg_names for device paths (e.g. the legs a resilver watch remembers)."""
    luns: dict[str, list[str]] = {}
    others: list[str] = []
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        match = _ISCSI_NAME.match(name)
        if match:
            luns.setdefault(match.group("iqn"), []).append(match.group("lun"))
        else:
            others.append(name)
    return ", ".join([*(f"{iqn} lun {','.join(numbers)}" for iqn, numbers in luns.items()), *others])


def degraded_reason(status: PoolStatus, resilver: str = "") -> str:
    """One short line: how many legs are out, in which states, from where; then the resilver (the
    monitor's phrase when it watches one, else the scan's own summary)."""
    unhealthy = status.unhealthy_legs
    reason = f"pool {status.name} {status.state}"
    if unhealthy:
        states = "/".join(sorted({leg.state for leg in unhealthy}))
        reason += f", {len(unhealthy)}/{len(status.legs)} legs {states}: {short_leg_names(unhealthy)}"
    if resilver:
        reason += f"; {resilver}"
    elif status.resilvering and status.scan is not None:
        reason += f"; {status.scan.summary}"
    return reason


def describe_legs(status: PoolStatus) -> str:
    """Every leg that is not ONLINE, with its full path, for the log."""
    return ", ".join(f"{leg.path} ({leg.state}{', resilvering' if leg.resilvering else ''})" for leg in status.unhealthy_legs)


def recoverable_legs(status: PoolStatus) -> list[Leg]:
    """Unhealthy legs that `zpool online` could bring back, and that no resilver is catching up yet."""
    return [leg for leg in status.unhealthy_legs if leg.state in RECOVERABLE_STATES and not leg.resilvering]


def legs_to_bring_back(status: PoolStatus, present: Callable[[str], bool]) -> list[Leg]:
    """Unhealthy legs whose device is back (e.g. the peer's iSCSI session returned)."""
    return [leg for leg in recoverable_legs(status) if present(leg.path)]


def legs_without_device(status: PoolStatus, present: Callable[[str], bool]) -> list[Leg]:
    """Unhealthy legs that could come back but whose device path is missing now: their peer may still
    be away, or be back with the name not made again (zfsha.iscsi.sessions.rename_devices)."""
    return [leg for leg in recoverable_legs(status) if not present(leg.path)]


def returned_legs(attempted: Iterable[Leg], after: PoolStatus) -> tuple[list[Leg], list[Leg]]:
    """Of the legs `zpool online` was run on, those that came back in `after` (the status read since)
    and those still out of service there (as `after` shows them): zpool online exits 0 on a leg that
    stays faulted."""
    still_out = {leg.path: leg for leg in after.unhealthy_legs if not leg.resilvering}
    back: list[Leg] = []
    stuck: list[Leg] = []
    for leg in attempted:
        if leg.path in still_out:
            stuck.append(still_out[leg.path])
        else:
            back.append(leg)
    return back, stuck


# ---- the resilver window ---------------------------------------------------------------------------
# `zpool online` returns, and the pool reads ONLINE, before ZFS has started resilvering the leg (captured:
# tests/unit/data/zpool/zpool_status.onlined_before_resilver.txt). Until the resilver ends, the leg that
# came back lacks the outage's writes: a failover then finds the surviving node's copy incomplete and its
# import fails ("one or more devices is currently unavailable"). So the monitor watches from bring-back
# until `zpool status` shows a finished resilver it had not seen before.

# ZFS requests the resilver when it reopens the leg and starts it within a txg or two, but only when the
# leg missed writes (a non-empty DTL): a leg that missed nothing is never resilvered. A watch with no
# resilver in sight this long after bring-back is taken as that case, so it cannot report a pool
# degraded forever.
RESILVER_START_GRACE_SECONDS = 120.0


@dataclass(frozen=True)
class ResilverWatch:
    """What the monitor remembers between runs (the run dir's watch file) while legs resilver."""

    since: float  # when the legs were brought back (or the resilver was first seen)
    legs: tuple[str, ...] = ()  # their paths, for the reason
    baseline: str | None = None  # the scan line before bring-back: an older finished resilver ends nothing

    def dumps(self) -> str:
        return json.dumps({"since": self.since, "legs": list(self.legs), "baseline": self.baseline})

    @classmethod
    def loads(cls, text: str, fallback_since: float) -> ResilverWatch:
        """The watch file's content; an empty or unreadable one (e.g. written by an older agent) is a
        watch without legs or baseline, dated by the file."""
        try:
            fields = json.loads(text)
            return cls(float(fields["since"]), tuple(str(leg) for leg in fields.get("legs", ())), fields.get("baseline"))
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls(fallback_since)


def start_watch(status: PoolStatus, legs: Iterable[str], now: float) -> ResilverWatch:
    """A watch begun when legs are brought back, against the scan `status` (read before) shows; each
    leg named once, in the order first given."""
    return ResilverWatch(now, tuple(dict.fromkeys(legs)), status.scan.summary if status.scan else "")


@dataclass(frozen=True)
class ResilverVerdict:
    active: bool  # a resilver runs or is awaited: the pool is not yet redundant
    phrase: str  # for the exit reason when active, for the log always


def resilver_verdict(status: PoolStatus, watch: ResilverWatch | None, now: float) -> ResilverVerdict | None:
    """Whether the pool is still short of a resilver; None when there is nothing to say."""
    legs = [leg.path for leg in status.legs if leg.resilvering] or list(watch.legs if watch else ())
    named = f" ({short_path_names(legs)})" if legs else ""
    scan = status.scan
    if status.resilvering:
        percent = scan.percent if scan is not None and scan.running else None
        return ResilverVerdict(True, f"resilvering {percent:.2f}%{named}" if percent is not None else f"resilvering{named}")
    if watch is None:
        return None
    if scan is not None and scan.function == "resilver" and not scan.running and scan.summary != watch.baseline:
        return ResilverVerdict(False, f"resilver finished{named}: {scan.summary}")
    waited = now - watch.since
    if waited >= RESILVER_START_GRACE_SECONDS:
        return ResilverVerdict(
            False, f"no resilver started {waited:.0f}s after bring-back{named}: ZFS found nothing for the legs to catch up"
        )
    return ResilverVerdict(True, f"resilver pending{named}")
