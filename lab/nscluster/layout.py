"""The state directory of a cluster: what lives where, and the description other processes read.

DIR/cluster.json                 ClusterSpec (names, addresses, netns names, env, mode)
DIR/nodes/NAME/boot.json         the node init's configuration (boot.py node)
DIR/nodes/NAME/init.pid          host pid of the node's PID-namespace init while it is powered
DIR/nodes/NAME/console.log       stdout/stderr of the init, corosync and pacemakerd
DIR/nodes/NAME/disk/...          the node's private /etc/corosync, /var/lib/{pacemaker,corosync},
                                 /var/log/{pacemaker,corosync}: they survive power cycles
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BOOT_SCRIPT = Path(__file__).resolve().with_name("boot.py")
PYTHON = "/usr/bin/python3"
DAEMON_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
SUBNET_PREFIX = "169.254.213."
BRIDGE_ADDRESS = SUBNET_PREFIX + "254"

# Node directory (host side) -> where it is bind-mounted inside the node.
PRIVATE_DIRS = {
    "etc-corosync": "/etc/corosync",
    "var-lib-pacemaker": "/var/lib/pacemaker",
    "var-lib-corosync": "/var/lib/corosync",
    "log-pacemaker": "/var/log/pacemaker",
    "log-corosync": "/var/log/corosync",
}


@dataclass
class NodeSpec:
    name: str
    address: str
    netns: str


@dataclass
class ClusterSpec:
    cluster_id: str
    repo: str
    agents: str
    stonith_enabled: bool
    bridge_netns: str
    bridge_address: str
    extra_env: dict[str, str]
    nodes: list[NodeSpec] = field(default_factory=list)

    def node(self, name: str) -> NodeSpec:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"no node {name!r} in cluster {self.cluster_id}")


class Layout:
    """Paths inside one state directory."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.root = Path(state_dir).resolve()

    @property
    def spec_file(self) -> Path:
        return self.root / "cluster.json"

    def node_dir(self, name: str) -> Path:
        return self.root / "nodes" / name

    def boot_config(self, name: str) -> Path:
        return self.node_dir(name) / "boot.json"

    def pid_file(self, name: str) -> Path:
        return self.node_dir(name) / "init.pid"

    def console_log(self, name: str) -> Path:
        return self.node_dir(name) / "console.log"

    def disk(self, name: str, private_dir: str) -> Path:
        return self.node_dir(name) / "disk" / private_dir

    def save(self, spec: ClusterSpec) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.spec_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(spec), indent=2) + "\n")
        # Holds the caller's environment for the daemons: root only.
        tmp.chmod(0o600)
        tmp.replace(self.spec_file)

    def load(self) -> ClusterSpec:
        data = json.loads(self.spec_file.read_text())
        data["nodes"] = [NodeSpec(**node) for node in data["nodes"]]
        return ClusterSpec(**data)
