"""The cluster's network: a bridge netns, and one netns per node joined to it by a veth pair.

All links live inside namespaces the cluster owns, never in the host's: deleting the namespaces
deletes every veth, and nothing here can touch a host interface. Named netns (ip netns) persist
across a node's power cycles like its NIC does, and let any process find them by path.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .layout import ClusterSpec

NETNS_DIR = Path("/run/netns")


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, stdout=subprocess.DEVNULL)


def netns_path(name: str) -> Path:
    return NETNS_DIR / name


def existing_netns() -> set[str]:
    if not NETNS_DIR.is_dir():
        return set()
    return {entry.name for entry in NETNS_DIR.iterdir()}


def create(spec: ClusterSpec) -> None:
    bridge = spec.bridge_netns
    ip("netns", "add", bridge)
    ip("-n", bridge, "link", "set", "lo", "up")
    ip("-n", bridge, "link", "add", "br0", "type", "bridge")
    ip("-n", bridge, "addr", "add", f"{spec.bridge_address}/24", "dev", "br0")
    ip("-n", bridge, "link", "set", "br0", "up")
    for index, node in enumerate(spec.nodes, start=1):
        ip("netns", "add", node.netns)
        ip("-n", node.netns, "link", "set", "lo", "up")
        port = f"port{index}"
        ip("-n", bridge, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", node.netns)
        ip("-n", bridge, "link", "set", port, "master", "br0", "up")
        ip("-n", node.netns, "addr", "add", f"{node.address}/24", "dev", "eth0")
        ip("-n", node.netns, "link", "set", "eth0", "up")


def cluster_netns(spec: ClusterSpec) -> list[str]:
    return [spec.bridge_netns, *(node.netns for node in spec.nodes)]


def delete(spec: ClusterSpec) -> None:
    present = existing_netns()
    for name in cluster_netns(spec):
        if name in present:
            subprocess.run(["ip", "netns", "del", name], check=False)
