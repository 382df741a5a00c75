"""The pool agent's steady monitor: the pool reads ONLINE in its kstat file, no resilver is watched,
and its health attribute was published as ONLINE (zfsha.attributes' memo holds that value alone).
That is exactly when the full depth-0 monitor answers 0 with no process started and nothing logged."""

from __future__ import annotations

from zfsha.paths import exists, memo_name, run_file
from zfsha.zpool.health import ONLINE
from zfsha.zpool.kstat import read_state
from zfsha.zpool.names import pool_name_problem

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def resilver_watch_name(pool: str) -> str:
    """The run-directory file present while a resilver of the pool is awaited or runs."""
    return f"resilver-{pool}"


def health_attribute(pool: str, configured: str) -> str:
    """The node attribute carrying the pool's health (the health_attribute parameter's default)."""
    return configured or f"zfs-pool-{pool}-health"


def pool_as_before(environ: Mapping[str, str]) -> bool:
    pool = environ.get("OCF_RESKEY_pool", "")
    if pool_name_problem(pool) is not None or read_state(pool, environ) != ONLINE:
        return False
    if exists(run_file(resilver_watch_name(pool), environ)):
        return False
    attribute = health_attribute(pool, environ.get("OCF_RESKEY_health_attribute", ""))
    with open(run_file(memo_name("attribute", attribute), environ), "rb") as memo:
        return memo.read() == ONLINE.encode()
