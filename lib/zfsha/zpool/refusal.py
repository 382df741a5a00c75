"""Why `zpool import` refused, read from its message: above all, which host holds the pool.

The texts are OpenZFS's own (zpool_main.c do_import and libzfs_pool.c zpool_import_props, 2.1-2.3):
- multihost activity seen:   "pool is imported on <host> (hostid: 0x<id>)"            (zpool, before import)
                             "pool is imported on host '<host>' (hostid=<id>)."       (libzfs, during import)
- not exported by another:   "pool was previously in use from another system.
                              Last accessed by <host> (hostid=<id>) at <time>"         (needs -f)
- multihost without hostid:  "... the multihost property on and the system's hostid is not set ..."
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ACTIVE_ELSEWHERE = "active-elsewhere"  # multihost saw another host writing: never override
NOT_EXPORTED = "not-exported"  # last used by another host that did not export (a crash): -f imports
NO_HOSTID = "no-hostid"
NO_SUCH_POOL = "no-such-pool"
DEVICES_MISSING = "devices-missing"
ALREADY_IMPORTED = "already-imported"
OTHER = "other"

# Patterns as strings, compiled (and cached by re) on first use: the pool agent's monitor imports
# this module (through zfsha.zpool.pool) but only an import reads a refusal.
_ACTIVE = (
    r"pool is imported on host '(?P<host>[^']*)' \(hostid=(?:0x)?(?P<hostid>[0-9a-fA-F]+)\)",
    r"pool is imported on (?P<host>\S+) \(hostid: (?:0x)?(?P<hostid>[0-9a-fA-F]+)\)",
    # `zpool import` listing (scan) of such a pool
    r"must be exported from (?P<host>\S+) \(hostid=(?:0x)?(?P<hostid>[0-9a-fA-F]+)\)",
)
_LEAD = r"(?i)^cannot import '[^']*':\s*"
_PREVIOUS = r"Last accessed by (?P<host>\S+) \(hostid=(?:0x)?(?P<hostid>[0-9a-fA-F]+)\)"


@dataclass(frozen=True)
class ImportRefusal:
    kind: str
    message: str
    host: str = ""
    hostid: str = ""

    def holder(self) -> str:
        """'host (hostid 0x...)' for exit reasons."""
        return f"{self.host or 'an unknown host'} (hostid 0x{self.hostid or '?'})"

    @property
    def detail(self) -> str:
        """zpool's message on one line, without its "cannot import '<pool>':" lead (the reason names the pool)."""
        return re.sub(_LEAD, "", " ".join(self.message.split()), count=1)


def parse_refusal(message: str) -> ImportRefusal:
    text = message.strip()
    for pattern in _ACTIVE:
        match = re.search(pattern, text)
        if match:
            return ImportRefusal(ACTIVE_ELSEWHERE, text, match.group("host"), match.group("hostid").lower())
    match = re.search(_PREVIOUS, text)
    if match or "previously in use from another system" in text:
        host, hostid = (match.group("host"), match.group("hostid").lower()) if match else ("", "")
        return ImportRefusal(NOT_EXPORTED, text, host, hostid)
    lowered = text.lower()
    if "hostid is not set" in lowered:
        return ImportRefusal(NO_HOSTID, text)
    if "no such pool" in lowered:
        return ImportRefusal(NO_SUCH_POOL, text)
    if "already exists" in lowered or "already imported" in lowered:
        return ImportRefusal(ALREADY_IMPORTED, text)
    if "devices is currently unavailable" in lowered or "missing or corrupted" in lowered:
        return ImportRefusal(DEVICES_MISSING, text)
    return ImportRefusal(OTHER, text)
