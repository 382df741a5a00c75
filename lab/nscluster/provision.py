"""Installing a node's "disk": its private directories, corosync.conf, the seeded CIB, boot.json."""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from .layout import DAEMON_PATH, PRIVATE_DIRS, ClusterSpec, Layout
from .tree import tree_mounts, tree_python_env

# Subdirectories the packages create, copied with their owner and mode.
SUBDIRS = {
    "var-lib-pacemaker": ("cib", "pengine", "blackbox", "cores"),
    "log-pacemaker": ("bundles",),
}


def corosync_conf(spec: ClusterSpec, token_ms: int | None) -> str:
    token = f"\n    token: {token_ms}" if token_ms else ""
    nodes = "".join(
        f"""
    node {{
        ring0_addr: {node.address}
        name: {node.name}
        nodeid: {index}
    }}"""
        for index, node in enumerate(spec.nodes, start=1)
    )
    two_node = "\n    two_node: 1" if len(spec.nodes) == 2 else ""
    return f"""totem {{
    version: 2
    cluster_name: zfsha-lab
    transport: knet
    crypto_cipher: none
    crypto_hash: none{token}
}}
nodelist {{{nodes}
}}
quorum {{
    provider: corosync_votequorum{two_node}
}}
logging {{
    to_logfile: yes
    logfile: /var/log/corosync/corosync.log
    to_syslog: no
    to_stderr: no
    timestamp: on
}}
"""


def seeded_cib(properties: dict[str, str]) -> str:
    """An empty CIB from this Pacemaker's own cibadmin, with the cluster properties set."""
    empty = subprocess.run(["cibadmin", "--empty"], check=True, capture_output=True, text=True).stdout
    cib = ET.fromstring(empty)
    crm_config = cib.find("configuration/crm_config")
    assert crm_config is not None
    options = ET.SubElement(crm_config, "cluster_property_set", id="cib-bootstrap-options")
    for name, value in properties.items():
        ET.SubElement(options, "nvpair", id=f"cib-bootstrap-options-{name}", name=name, value=value)
    return ET.tostring(cib, encoding="unicode") + "\n"


def cluster_properties(spec: ClusterSpec, overrides: dict[str, str]) -> dict[str, str]:
    properties = {
        # Default 20 s: every start would wait that long for a DC election.
        "dc-deadtime": "2s",
        "stonith-enabled": "true" if spec.stonith_enabled else "false",
        # One node is quorate on its own; with more, losing quorum must stop resources.
        "no-quorum-policy": "ignore" if len(spec.nodes) == 1 else "stop",
        "cluster-name": "zfsha-lab",
    }
    properties.update(overrides)
    return properties


def copy_owner_mode(template: Path, target: Path) -> None:
    info = template.stat()
    target.mkdir(parents=True, exist_ok=True)
    os.chown(target, info.st_uid, info.st_gid)
    target.chmod(info.st_mode & 0o7777)


def write_file(path: Path, text: str, mode: int, owner: tuple[int, int] = (0, 0)) -> None:
    path.write_text(text)
    os.chown(path, *owner)
    path.chmod(mode)


def daemon_env(spec: ClusterSpec) -> dict[str, str]:
    """The whole environment of corosync, pacemakerd and (through pacemaker-execd) the agents."""
    env = {"PATH": DAEMON_PATH}
    env.update(spec.extra_env)
    if spec.agents == "tree":
        env.update(tree_python_env(Path(spec.repo), env.get("PYTHONPATH")))
    return env


def install_disk(layout: Layout, spec: ClusterSpec, name: str, token_ms: int | None, property_overrides: dict[str, str]) -> None:
    hacluster = (pwd.getpwnam("hacluster").pw_uid, grp.getgrnam("haclient").gr_gid)
    for private_dir, mountpoint in PRIVATE_DIRS.items():
        disk = layout.disk(name, private_dir)
        copy_owner_mode(Path(mountpoint), disk)
        for subdir in SUBDIRS.get(private_dir, ()):
            copy_owner_mode(Path(mountpoint) / subdir, disk / subdir)
    etc = layout.disk(name, "etc-corosync")
    shutil.copytree("/etc/corosync/uidgid.d", etc / "uidgid.d", dirs_exist_ok=True)
    write_file(etc / "corosync.conf", corosync_conf(spec, token_ms), 0o644)
    cib_dir = layout.disk(name, "var-lib-pacemaker") / "cib"
    write_file(cib_dir / "cib.xml", seeded_cib(cluster_properties(spec, property_overrides)), 0o600, hacluster)


def node_mounts(layout: Layout, spec: ClusterSpec, name: str) -> list[dict]:
    mounts: list[dict] = [
        {"type": "bind", "src": str(layout.disk(name, private_dir)), "dst": mountpoint}
        for private_dir, mountpoint in PRIVATE_DIRS.items()
    ]
    mounts += [
        {"type": "tmpfs", "dst": "/run", "options": "mode=0755"},
        # libqb names its shared-memory files by service: nodes would collide in one /dev/shm.
        {"type": "tmpfs", "dst": "/dev/shm", "options": "mode=1777"},
        # pacemakerd "panics" through sysrq: never let a node reach the host's.
        {"type": "mask", "dst": "/proc/sysrq-trigger"},
    ]
    if spec.agents == "tree":
        mounts += tree_mounts(Path(spec.repo))
    return mounts


def write_boot_config(layout: Layout, spec: ClusterSpec, name: str) -> Path:
    config = {
        "hostname": name,
        "pid_file": str(layout.pid_file(name)),
        "console_log": str(layout.console_log(name)),
        "mounts": node_mounts(layout, spec, name),
        "daemon_env": daemon_env(spec),
        "hacluster_uid": pwd.getpwnam("hacluster").pw_uid,
        "haclient_gid": grp.getgrnam("haclient").gr_gid,
        "corosync_timeout": 20.0,
        "shutdown_timeout": 60.0,
    }
    path = layout.boot_config(name)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)
    return path
