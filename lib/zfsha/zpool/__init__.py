"""ZFS pools: the Pool object, and parsing of zpool's scriptable output kept beside it.

The names below are loaded from their modules on first use (PEP 562), so that importing a light
submodule (`zfsha.zpool.health`, `zfsha.zpool.kstat`, `zfsha.zpool.steady`: what the pool agent's
depth-0 monitor needs) does not also import the pool's commands and zpool status parsing.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: the steady monitor imports this package and nothing heavy
if TYPE_CHECKING:
    from zfsha.zpool.health import DEGRADED, ONLINE, SERVING, SUSPENDED, can_serve
    from zfsha.zpool.pool import Dataset, ImportRefused, Pool
    from zfsha.zpool.refusal import ImportRefusal, parse_refusal
    from zfsha.zpool.status import Leg, PoolStatus, Scan, parse_json, parse_text

_HOMES = {
    "DEGRADED": "health",
    "ONLINE": "health",
    "SERVING": "health",
    "SUSPENDED": "health",
    "can_serve": "health",
    "Dataset": "pool",
    "ImportRefused": "pool",
    "Pool": "pool",
    "ImportRefusal": "refusal",
    "parse_refusal": "refusal",
    "Leg": "status",
    "PoolStatus": "status",
    "Scan": "status",
    "parse_json": "status",
    "parse_text": "status",
}

__all__ = [
    "DEGRADED",
    "ONLINE",
    "SERVING",
    "SUSPENDED",
    "Dataset",
    "ImportRefusal",
    "ImportRefused",
    "Leg",
    "Pool",
    "PoolStatus",
    "Scan",
    "can_serve",
    "parse_json",
    "parse_refusal",
    "parse_text",
]


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{home}"), name)
