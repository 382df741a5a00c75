"""`zpool status` parsed into what the agent decides on: the pool's state, its legs, and any scan.

Two sources: the text of `zpool status -P -p <pool>` (OpenZFS 2.1, Debian 12) and the JSON of
`zpool status -j --json-int -P <pool>` (OpenZFS 2.3 and later). Both give the same PoolStatus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

LEAF_TYPES = frozenset({"disk", "file"})


@dataclass(frozen=True)
class Leg:
    """One device of the pool (a leaf vdev)."""

    name: str  # as zpool prints it: a path with -P, or a guid when the device is missing
    state: str
    vdev: str  # the top-level vdev it belongs to, e.g. mirror-0
    was: str = ""  # the path a missing device had
    resilvering: bool = False

    @property
    def path(self) -> str:
        return self.was or self.name

    @property
    def healthy(self) -> bool:
        return self.state == "ONLINE"


@dataclass(frozen=True)
class Scan:
    """A scrub or resilver, running or finished."""

    function: str  # "resilver" or "scrub"
    running: bool
    percent: float | None = None
    summary: str = ""


@dataclass(frozen=True)
class PoolStatus:
    name: str
    state: str
    legs: tuple[Leg, ...] = ()
    scan: Scan | None = None
    status: str = ""
    errors: str = ""
    vdev_states: dict[str, str] = field(default_factory=dict)

    @property
    def unhealthy_legs(self) -> tuple[Leg, ...]:
        return tuple(leg for leg in self.legs if not leg.healthy)

    @property
    def suspended(self) -> bool:
        return "suspended" in self.errors.lower() or "in response to io failures" in self.status.lower()

    @property
    def resilvering(self) -> bool:
        return bool(self.scan and self.scan.function == "resilver" and self.scan.running) or any(
            leg.resilvering for leg in self.legs
        )


# Patterns as strings, compiled (and cached by re) on first use: importing this module (the pool
# agent's depth-0 monitor does, through zfsha.zpool.pool) should not compile what only parsing uses.
_FIELD = r"^\s*(pool|state|status|action|see|scan|config|errors|remove|checkpoint|scrub):\s?(.*)$"
_PERCENT = r"([0-9.]+)% done"
_TO_GO = r"(\S+) to go"


def parse_text(text: str, pool: str | None = None) -> PoolStatus:
    """Parse one pool's `zpool status -P` text (the first pool, or the one named)."""
    for block in _pool_blocks(text):
        status = _parse_block(block)
        if pool is None or status.name == pool:
            return status
    raise ValueError(f"no status for pool {pool or '(any)'} in zpool status output")


def _pool_blocks(text: str) -> list[list[str]]:
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if re.match(r"^\s*pool:\s", line):
            blocks.append([])
        if blocks:
            blocks[-1].append(line)
    return blocks


def _parse_block(lines: list[str]) -> PoolStatus:
    fields: dict[str, str] = {}
    config: list[str] = []
    current = ""
    for line in lines:
        match = re.match(_FIELD, line)
        if match:
            current = match.group(1)
            fields[current] = match.group(2).strip()
            continue
        if current == "config":
            config.append(line)
        elif current and line.strip():
            fields[current] = f"{fields[current]} {line.strip()}".strip()
    legs, vdev_states = _parse_config(config, fields.get("pool", ""))
    return PoolStatus(
        name=fields.get("pool", ""),
        state=fields.get("state", ""),
        legs=tuple(legs),
        scan=_parse_scan(fields.get("scan", "")),
        status=fields.get("status", ""),
        errors=fields.get("errors", ""),
        vdev_states=vdev_states,
    )


def _parse_config(lines: list[str], pool: str) -> tuple[list[Leg], dict[str, str]]:
    """The config tree: indentation (two spaces a level, after a tab) gives the nesting."""
    rows: list[tuple[int, list[str], str]] = []
    for line in lines:
        if not line.strip():
            continue
        body = line.lstrip("\t")
        tokens = body.split()
        if tokens[:2] == ["NAME", "STATE"]:
            continue
        rows.append((len(body) - len(body.lstrip(" ")), tokens, body.strip()))
    legs: list[Leg] = []
    vdev_states: dict[str, str] = {}
    top = group = ""
    for index, (depth, tokens, body) in enumerate(rows):
        name = tokens[0]
        state = tokens[1] if len(tokens) > 1 else ""
        if depth == 0:  # the pool itself, or a group heading (logs, spares, ...)
            group = "" if name == pool else name
            continue
        if group == "spares":  # hot spares wait unused (AVAIL): not legs of the pool
            continue
        if state:
            vdev_states[name] = state
        if depth == 2:
            top = name
        deeper_follows = index + 1 < len(rows) and rows[index + 1][0] > depth
        if deeper_follows:
            continue
        note = body.split(None, 5)[5] if len(tokens) > 5 else ""
        was = note[4:].split()[0] if note.startswith("was ") else ""
        legs.append(Leg(name, state, top, was, "(resilvering)" in note))
    return legs, vdev_states


def _parse_scan(text: str) -> Scan | None:
    if not text or text.startswith("none requested"):
        return None
    function = "resilver" if text.startswith("resilver") else "scrub"
    running = "in progress" in text
    match = re.search(_PERCENT, text)
    percent = float(match.group(1)) if match else None
    summary = text
    if running:
        to_go = re.search(_TO_GO, text)
        summary = f"{function} in progress" + (f", {percent:.2f}% done" if percent is not None else "")
        summary += f", {to_go.group(1)} to go" if to_go else ""
    return Scan(function, running, percent, summary)


def parse_json(document: dict[str, Any], pool: str) -> PoolStatus:
    """Parse `zpool status -j` output (OpenZFS 2.3+) for one pool."""
    entry = document.get("pools", {}).get(pool)
    if entry is None:
        raise ValueError(f"no status for pool {pool} in zpool status JSON")
    legs: list[Leg] = []
    vdev_states: dict[str, str] = {}
    for root in entry.get("vdevs", {}).values():
        for top_name, top in root.get("vdevs", {}).items():
            _walk_json(top_name, top, top_name, legs, vdev_states)
    return PoolStatus(
        name=pool,
        state=str(entry.get("state", "")),
        legs=tuple(legs),
        scan=_scan_from_json(entry.get("scan_stats")),
        status=str(entry.get("status", "")),
        errors=str(entry.get("errors", entry.get("error_count", ""))),
        vdev_states=vdev_states,
    )


def _walk_json(name: str, vdev: dict[str, Any], top: str, legs: list[Leg], states: dict[str, str]) -> None:
    state = str(vdev.get("state", ""))
    states[name] = state
    children = vdev.get("vdevs")
    if children:
        for child_name, child in children.items():
            _walk_json(child_name, child, top, legs, states)
        return
    if vdev.get("vdev_type", "disk") not in LEAF_TYPES and name != top:
        return
    path = str(vdev.get("path", "") or name)
    missing = bool(vdev.get("not_present"))
    legs.append(
        Leg(
            name=str(vdev.get("guid", name)) if missing else path,
            state=state,
            vdev=top,
            was=path if missing else "",
            resilvering=bool(vdev.get("resilver_repair")) or "resilvering" in str(vdev.get("status", "")).lower(),
        )
    )


def _scan_from_json(stats: dict[str, Any] | None) -> Scan | None:
    if not stats or not stats.get("function"):
        return None
    function = "resilver" if str(stats["function"]).upper() == "RESILVER" else "scrub"
    running = str(stats.get("state", "")).upper() == "SCANNING"
    percent = None
    try:
        total = float(stats.get("to_examine", 0))
        issued = float(stats.get("issued", 0))
        if total > 0:
            percent = round(100.0 * issued / total, 2)
    except (TypeError, ValueError):
        pass
    summary = f"{function} {'in progress' if running else 'finished'}"
    if percent is not None and running:
        summary += f", {percent:.2f}% done"
    elif not running and stats.get("end_time"):
        # Dated like the text's "resilvered ... on <time>": a later resilver reads differently.
        summary += f" on {stats['end_time']}"
    return Scan(function, running, percent, summary)
