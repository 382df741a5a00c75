"""Real corosync + pacemaker clusters in namespaces on one machine, for tests and the demo.

See README.md beside this file. The public surface:
    Cluster, NodeOff, cleanup, cleanup_stale, remove_state   (cluster.py)
    run_with_tree                            (tree.py)
    python3 -m lab.nscluster {up,down,exec,power,status,cleanup}
"""

from .cluster import Cluster, NodeOff, cleanup, cleanup_stale, remove_state
from .tree import run_with_tree

__all__ = ["Cluster", "NodeOff", "cleanup", "cleanup_stale", "remove_state", "run_with_tree"]
