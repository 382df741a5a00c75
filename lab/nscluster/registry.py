"""Which clusters exist on this machine, so a run killed mid-way can be swept up later.

One file per cluster in /run/nscluster: its state directory and the pid of the process that owns it
(None once `up` has handed it to the demo). A cluster is stale when its owner is dead or its state
directory is gone; a netns named like ours with no registered cluster is an orphan.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import procs

REGISTRY_DIR = Path("/run/nscluster")
NETNS_PREFIX = "nscluster-"


def entry_path(cluster_id: str) -> Path:
    return REGISTRY_DIR / f"{cluster_id}.json"


def register(cluster_id: str, state_dir: Path, owner_pid: int | None) -> None:
    REGISTRY_DIR.mkdir(parents=True, exist_ok=True)
    path = entry_path(cluster_id)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"state_dir": str(state_dir), "owner_pid": owner_pid}) + "\n")
    tmp.replace(path)


def unregister(cluster_id: str) -> None:
    entry_path(cluster_id).unlink(missing_ok=True)


def entries() -> dict[str, dict]:
    if not REGISTRY_DIR.is_dir():
        return {}
    found = {}
    for path in REGISTRY_DIR.glob("*.json"):
        try:
            found[path.stem] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return found


def is_stale(entry: dict) -> bool:
    owner = entry.get("owner_pid")
    if not os.path.exists(os.path.join(entry["state_dir"], "cluster.json")):
        return True
    return owner is not None and not procs.is_alive(owner)


def cluster_id_of_netns(name: str) -> str | None:
    """'nscluster-1a2b3c-node1' -> '1a2b3c'."""
    if not name.startswith(NETNS_PREFIX):
        return None
    return name[len(NETNS_PREFIX) :].split("-", 1)[0]
