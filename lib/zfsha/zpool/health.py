"""What a pool's health word means for the cluster.

The words are ZFS's own: the kstat state file and `zpool list -o health` print the same vocabulary
(spa_state_to_name in OpenZFS), plus SUSPENDED when the pool's I/O is suspended.
"""

from __future__ import annotations

ONLINE = "ONLINE"
DEGRADED = "DEGRADED"
SUSPENDED = "SUSPENDED"
FAULTED = "FAULTED"
UNAVAIL = "UNAVAIL"

# An imported pool in one of these states can serve reads and writes.
SERVING = frozenset({ONLINE, DEGRADED})


def can_serve(health: str) -> bool:
    return health in SERVING


def is_broken(health: str) -> bool:
    """Imported but unable to serve: the resource has failed (it is not 'stopped')."""
    return health not in SERVING
