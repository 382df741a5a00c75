"""Pool state without ZFS locks: the kstat state file OpenZFS keeps per imported pool.

Reading /proc/spl/kstat/zfs/<pool>/state takes no spa_namespace lock and starts no process, so a
monitor reading it cannot hang behind a stuck `zpool` command (available since ZoL 0.7.10). The
steady monitor (zfsha.zpool.steady) reads it before the framework loads, without the os module.
"""

from __future__ import annotations

from zfsha.paths import exists, host_path

TYPE_CHECKING = False  # typing itself is not imported: the steady monitor imports this
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

KSTAT_ROOT = "/proc/spl/kstat/zfs"

# Answers of read_state besides a health word.
NOT_IMPORTED = ""


def read_state(pool: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The pool's health word, NOT_IMPORTED when the module is loaded but has no such pool, or None
    when the kstat tree is not there (module not loaded, or a platform without it): ask zpool then."""
    root = host_path(KSTAT_ROOT, environ)
    try:
        with open(f"{root}/{pool}/state", "rb") as state:  # bytes: no text layer or codec to load
            return state.read().decode().strip()
    except FileNotFoundError:
        return NOT_IMPORTED if exists(root) else None
    except (OSError, ValueError):
        return None


def suspended_pools(datasets: Iterable[str]) -> list[str]:
    """The pools holding these datasets whose I/O is suspended, read lock-free (a pool the kstat
    tree does not show is not counted: nothing there says it is suspended)."""
    from zfsha.zpool.health import SUSPENDED

    pools = dict.fromkeys(dataset.split("/")[0] for dataset in datasets)
    return [pool for pool in pools if read_state(pool) == SUSPENDED]
