"""ZFS pools: the Pool object, and parsing of zpool's scriptable output kept beside it."""

from zfsha.zpool.health import DEGRADED, ONLINE, SERVING, SUSPENDED, can_serve
from zfsha.zpool.pool import Dataset, ImportRefused, Pool
from zfsha.zpool.refusal import ImportRefusal, parse_refusal
from zfsha.zpool.status import Leg, PoolStatus, Scan, parse_json, parse_text

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
