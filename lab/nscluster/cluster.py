"""A real corosync + pacemaker cluster of namespace nodes on this one machine."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
import weakref
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from . import crm_status, network, power, procs, provision, registry
from .layout import BRIDGE_ADDRESS, REPO_ROOT, SUBNET_PREFIX, ClusterSpec, Layout, NodeSpec
from .tree import agents_mode, ensure_provider_dir

T = TypeVar("T")


class NodeOff(RuntimeError):
    """A command was aimed at a node that is powered off."""


class Cluster:
    """Nodes node1..nodeN, each with its own netns, mount, UTS, IPC and PID namespaces.

    `Cluster(dir, nodes=3).start()` provisions and boots; `Cluster.attach(dir)` controls a cluster
    another process started (the state directory describes it). Use as a context manager, or call
    stop(); a cluster this process started is also torn down at interpreter exit.
    """

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        nodes: int = 3,
        *,
        stonith_enabled: bool = False,
        extra_env: Mapping[str, str] | None = None,
        agents: str | None = None,
        cluster_properties: Mapping[str, str] | None = None,
        token_ms: int | None = None,
        repo: str | os.PathLike[str] = REPO_ROOT,
    ) -> None:
        if not 1 <= nodes <= 16:
            raise ValueError("nodes must be between 1 and 16")
        self.layout = Layout(workdir)
        cluster_id = secrets.token_hex(3)
        self.spec = ClusterSpec(
            cluster_id=cluster_id,
            repo=str(Path(repo).resolve()),
            agents=agents_mode(agents),
            stonith_enabled=stonith_enabled,
            bridge_netns=f"{registry.NETNS_PREFIX}{cluster_id}-bridge",
            bridge_address=BRIDGE_ADDRESS,
            extra_env=dict(extra_env or {}),
            nodes=[
                NodeSpec(
                    name=f"node{index}",
                    address=f"{SUBNET_PREFIX}{index}",
                    netns=f"{registry.NETNS_PREFIX}{cluster_id}-node{index}",
                )
                for index in range(1, nodes + 1)
            ],
        )
        self._properties = dict(cluster_properties or {})
        self._token_ms = token_ms
        self._finalizer: weakref.finalize | None = None

    @classmethod
    def attach(cls, workdir: str | os.PathLike[str]) -> Cluster:
        """Control the cluster described by an existing state directory (no provisioning)."""
        cluster = cls.__new__(cls)
        cluster.layout = Layout(workdir)
        cluster.spec = cluster.layout.load()
        cluster._properties = {}
        cluster._token_ms = None
        cluster._finalizer = None
        return cluster

    # Facts

    @property
    def state_dir(self) -> Path:
        return self.layout.root

    @property
    def nodes(self) -> list[str]:
        return [node.name for node in self.spec.nodes]

    @property
    def bridge_address(self) -> str:
        """Where processes started by spawn_in_bridge() are reachable from every node."""
        return self.spec.bridge_address

    def address(self, name: str) -> str:
        return self.spec.node(name).address

    def log_path(self, name: str, which: str = "pacemaker") -> Path:
        """Host path of a node's pacemaker.log, corosync.log or console.log."""
        if which == "console":
            return self.layout.console_log(name)
        return self.layout.disk(name, f"log-{which}") / f"{which}.log"

    # Life cycle

    def start(self, timeout: float = 60.0) -> Cluster:
        """Provision the state directory and network, boot every node, wait until all are online."""
        if self.layout.spec_file.exists():
            raise RuntimeError(f"{self.state_dir} already holds a cluster: stop/cleanup it or use another")
        self.layout.save(self.spec)
        registry.register(self.spec.cluster_id, self.state_dir, os.getpid())
        self._finalizer = weakref.finalize(self, cleanup, self.state_dir)
        if self.spec.agents == "tree":
            ensure_provider_dir()
        network.create(self.spec)
        for name in self.nodes:
            provision.install_disk(self.layout, self.spec, name, self._token_ms, self._properties)
            provision.write_boot_config(self.layout, self.spec, name)
        for name in self.nodes:
            power.power_on(self.layout, name, boot_delay=0)
        try:
            self.wait_online(self.nodes, timeout=timeout)
        except TimeoutError as error:
            logs = ", ".join(str(self.log_path(name, "console")) for name in self.nodes)
            raise TimeoutError(f"{error}; see {logs} and the pacemaker/corosync logs beside them") from None
        return self

    def stop(self, graceful: bool = True, timeout: float = 60.0) -> None:
        """Shut every node down (cleanly unless graceful=False), then remove netns and processes."""
        if graceful:
            power.shutdown(self.layout, self.nodes, timeout=timeout)
        cleanup(self.state_dir)
        if self._finalizer is not None:
            self._finalizer.detach()

    def detach(self) -> None:
        """Leave the cluster running when this process exits (the `up` CLI): no longer stale when
        this process is gone; `down` or `cleanup` removes it."""
        if self._finalizer is not None:
            self._finalizer.detach()
        registry.register(self.spec.cluster_id, self.state_dir, None)

    def __enter__(self) -> Cluster:
        if not self.layout.spec_file.exists():
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Power

    def power_on(self, name: str, boot_delay: float = 8.0) -> None:
        """Power the node on; its daemons start after boot_delay (a machine's POST)."""
        power.power_on(self.layout, name, boot_delay=boot_delay)

    def power_off(self, name: str) -> None:
        """Cut the node's power: every process of it dies at once, nothing shuts down cleanly."""
        power.power_off(self.layout, name)

    def power_state(self, name: str) -> bool:
        return power.power_state(self.layout, name)

    def init_pid(self, name: str) -> int:
        pid = power.init_pid(self.layout, name)
        if pid is None:
            raise NodeOff(f"{name} is powered off")
        return pid

    def node_pids(self, name: str) -> dict[int, str]:
        """Host pid -> command name of every process of a powered node."""
        pidns = procs.namespace(self.init_pid(name), "pid")
        return {pid: procs.comm(pid) for pid in procs.pids_in_namespaces("pid", [pidns or ""])}

    def daemon_pid(self, name: str, command: str) -> int:
        for pid, comm in self.node_pids(name).items():
            if comm == command:
                return pid
        raise LookupError(f"no {command} running on {name}")

    def freeze_corosync(self, name: str) -> None:
        """SIGSTOP the node's corosync: it stops answering, as a hung machine does."""
        os.kill(self.daemon_pid(name, "corosync"), signal.SIGSTOP)

    def thaw_corosync(self, name: str) -> None:
        os.kill(self.daemon_pid(name, "corosync"), signal.SIGCONT)

    # Commands

    def node_env(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment commands run with: the daemons' clean one, then `env`."""
        return {**provision.daemon_env(self.spec), **(env or {})}

    def command(self, name: str, argv: Sequence[str]) -> list[str]:
        """argv that runs `argv` inside the node's namespaces (for callers streaming output)."""
        return ["nsenter", "-t", str(self.init_pid(name)), "-n", "-m", "-u", "-i", "-p", "--", *argv]

    def run(
        self,
        name: str,
        argv: Sequence[str],
        input: str | None = None,
        timeout: float | None = 60.0,
        env: Mapping[str, str] | None = None,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the node (pcs, crm_mon, stonith_admin, ...), output captured as text."""
        return subprocess.run(
            self.command(name, argv),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.node_env(env),
            cwd="/",
            check=check,
        )

    def spawn_in_bridge(self, argv: Sequence[str], **popen_kwargs: object) -> subprocess.Popen:
        """Start a process in the bridge netns (reachable by every node at bridge_address) that
        stays in the host's PID and mount namespaces. cleanup() kills it if it is still running."""
        path = network.netns_path(self.spec.bridge_netns)
        return subprocess.Popen(["nsenter", f"--net={path}", "--", *argv], **popen_kwargs)  # type: ignore[call-overload]

    # Status

    def crm_mon(self, name: str) -> ET.Element | None:
        """crm_mon's XML status as seen from `name`; None while it cannot answer."""
        try:
            result = self.run(name, crm_status.CRM_MON, timeout=15)
        except (NodeOff, subprocess.TimeoutExpired):
            return None
        if result.returncode != 0:
            return None
        try:
            return crm_status.parse(result.stdout)
        except ET.ParseError:
            return None

    def _observer(self, exclude: str | None = None) -> str | None:
        powered = [name for name in self.nodes if self.power_state(name)]
        others = [name for name in powered if name != exclude]
        return (others or powered or [None])[0]

    def online_nodes(self, via: str | None = None) -> list[str]:
        via = via or self._observer()
        status = self.crm_mon(via) if via else None
        return crm_status.online_nodes(status) if status is not None else []

    def node_online(self, name: str, via: str | None = None) -> bool:
        """Whether Pacemaker sees `name` online, asked of `via` (default: another powered node)."""
        via = via or self._observer(exclude=name)
        return via is not None and name in self.online_nodes(via)

    def resource_nodes(self, resource: str, via: str | None = None, role: str = "Started") -> list[str]:
        via = via or self._observer()
        status = self.crm_mon(via) if via else None
        return crm_status.resource_nodes(status, resource, role) if status is not None else []

    # Waiting

    def wait_for(self, check: Callable[[], T], timeout: float = 30.0, what: str = "condition", interval: float = 0.25) -> T:
        """Poll `check` until it returns something truthy, and return that; TimeoutError after."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{what} not reached within {timeout:g} s")
            time.sleep(interval)

    def wait_crm_mon(
        self, name: str, predicate: Callable[[ET.Element], T], timeout: float = 30.0, what: str = "crm_mon condition"
    ) -> T:
        """Poll crm_mon's XML on `name` until predicate(status) is truthy; returns its value."""

        def check() -> T | None:
            status = self.crm_mon(name)
            return predicate(status) if status is not None else None

        return self.wait_for(check, timeout=timeout, what=f"{what} on {name}")  # type: ignore[return-value]

    def wait_online(self, names: Sequence[str] | None = None, via: str | None = None, timeout: float = 60.0) -> None:
        """Wait until Pacemaker on `via` (default: the first powered node) sees `names` online and joined."""
        wanted = list(names or self.nodes)
        observer = via or next((name for name in wanted if self.power_state(name)), None) or self._observer()
        if observer is None:
            raise NodeOff("no node is powered on")
        self.wait_crm_mon(
            observer,
            lambda status: set(wanted) <= set(crm_status.member_nodes(status)),
            timeout=timeout,
            what=f"{', '.join(wanted)} online",
        )

    def wait_started(self, resource: str, via: str | None = None, timeout: float = 30.0, exclude: Sequence[str] = ()) -> str:
        """Wait until `resource` is Started on a node not in `exclude`; returns that node."""

        def check() -> str | None:
            started = [node for node in self.resource_nodes(resource, via=via) if node not in exclude]
            return started[0] if started else None

        return self.wait_for(check, timeout=timeout, what=f"{resource} started")


def cleanup(state_dir: str | os.PathLike[str]) -> None:
    """Leave nothing of the cluster: kill every node and every process in its netns, delete them.
    Safe to call repeatedly, and from another process after a crash."""
    layout = Layout(state_dir)
    if not layout.spec_file.exists():
        return
    spec = layout.load()
    for node in spec.nodes:
        power.power_off(layout, node.name)
    netns_ids = [ident for name in network.cluster_netns(spec) if (ident := procs.netns_id(network.netns_path(name))) is not None]
    # Emulators in the bridge, commands left by run(), a boot still in its delay.
    for _ in range(3):
        stragglers = procs.pids_in_namespaces("net", netns_ids)
        if not stragglers:
            break
        procs.kill_and_wait(stragglers, signal.SIGKILL)
    network.delete(spec)
    for node in spec.nodes:
        layout.pid_file(node.name).unlink(missing_ok=True)
    registry.unregister(spec.cluster_id)


def cleanup_stale() -> list[str]:
    """Sweep up clusters whose owning process died without stopping them, and netns of ours that
    no registered cluster claims. Clusters with a live owner, or left running by `up`, are kept.
    Returns what was removed."""
    removed = []
    entries = registry.entries()
    for cluster_id, entry in entries.items():
        if registry.is_stale(entry):
            if Layout(entry["state_dir"]).spec_file.exists():
                cleanup(entry["state_dir"])
            registry.unregister(cluster_id)
            removed.append(entry["state_dir"])
    orphans = [
        name
        for name in network.existing_netns()
        if (cluster_id := registry.cluster_id_of_netns(name)) and cluster_id not in registry.entries()
    ]
    netns_ids = [ident for name in orphans if (ident := procs.netns_id(network.netns_path(name)))]
    procs.kill_and_wait(procs.pids_in_namespaces("net", netns_ids), signal.SIGKILL)
    for name in orphans:
        subprocess.run(["ip", "netns", "del", name], check=False)
        removed.append(f"netns {name}")
    return removed


def remove_state(state_dir: str | os.PathLike[str]) -> None:
    """cleanup(), then delete the state directory (logs included)."""
    cleanup(state_dir)
    shutil.rmtree(state_dir, ignore_errors=True)
