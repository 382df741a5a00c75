"""The demo: the installed zfsha agents in a real three-node corosync + pacemaker cluster on one machine.

    python3 -m lab.demo up   --state-dir DIR [--agents installed|tree]
    python3 -m lab.demo fence NODE --state-dir DIR
    python3 -m lab.demo down --state-dir DIR

node1 and node2 are the storage nodes (seed 004's storage-a and storage-b), node3 the quorum node. Each
node is powered through its own emulated IPMI BMC (lab.peers.ipmi, a real RMCP+ peer) whose power-off
kills that node's namespaces and whose power-on boots it again, and fence_ipmi fences through it. The
host kernel has no ZFS or iSCSI initiator, so zfs-iscsi-pool drives the command simulators of
tests/sim (a pool of two mirrors, each a local disk and a LUN of the peer's); everything else is real.
The cluster is configured with the same pcs commands an admin runs (printed as they run).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from lab.nscluster import Cluster, cleanup, remove_state

REPO = Path(__file__).resolve().parents[1]
PYTHON = "/usr/bin/python3"
BMC_USER = "fencer"
POOL = "san-pool"
STORAGE_NODES = ("node1", "node2")
QUORUM_NODE = "node3"


def _paths(state_dir: Path) -> dict[str, Path]:
    return {
        "cluster": state_dir / "cluster",
        "sim": state_dir / "zfs-sim",
        "secrets": state_dir / "secrets",
        "peers": state_dir / "peers.json",
    }


def _private(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text, encoding="utf-8")
    return path


def _say(text: str) -> None:
    print(text, flush=True)


def _pcs(cluster: Cluster, *argv: str) -> None:
    _say(f"# pcs {shlex.join(argv)}")
    done = cluster.run("node1", ["pcs", *argv], timeout=180)
    if done.returncode != 0:
        raise SystemExit(f"pcs {' '.join(argv)} failed:\n{done.stdout}{done.stderr}")


def _start_bmc(cluster: Cluster, node: str, paths: dict[str, Path], password: str) -> tuple[int, int]:
    """A BMC for `node` in the cluster's bridge namespace; returns (pid, UDP port)."""
    credentials = _private(paths["secrets"] / f"bmc-{node}", f"username={BMC_USER}\npassword={password}\n")
    power = [PYTHON, "-m", "lab.demo", "power"]
    state = ["--state-dir", str(paths["cluster"].parent)]
    argv = [
        PYTHON, "-m", "lab.peers.ipmi", "--listen", cluster.bridge_address, "--port", "0",
        "--outlet", "chassis=ON", "--credentials-file", str(credentials),
        "--off-hook", f"chassis={shlex.join([*power, 'off', node, *state])}",
        "--on-hook", f"chassis={shlex.join([*power, 'on', node, *state])}",
    ]  # fmt: skip
    output = paths["cluster"].parent / f"bmc-{node}.log"
    with open(output, "w") as log:
        process = cluster.spawn_in_bridge(
            argv, cwd=str(REPO), stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(REPO)}
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        line = output.read_text().split("\n", 1)[0].split()
        if line[:1] == ["READY"] and len(line) == 2:
            return process.pid, int(line[1])
        time.sleep(0.1)
    raise SystemExit(f"the BMC of {node} did not start; see {output}")
    return process.pid, int(line[1])


def power(state_dir: Path, action: str, node: str) -> None:
    """A BMC's power hook: the node's namespaces die or boot, and the simulated storage sees the same.

    A node that loses power stops writing (its multihost heartbeat stops); one that boots again has no
    pool imported, because the pool agent imports with cachefile=none.
    """
    paths = _paths(state_dir)
    sys.path.insert(0, str(REPO))
    from tests.sim import world

    cluster = Cluster.attach(paths["cluster"])
    if action == "off":
        cluster.power_off(node)
    with world.world(paths["sim"]) as data:
        data["hosts"][node]["alive"] = action == "on"
        if action == "on":
            for pool in data["pools"].values():
                if pool.get("holder") == node:
                    pool["holder"] = None
                    pool["mounted"] = []
    if action == "on":
        cluster.power_on(node)


def _simulated_storage(paths: dict[str, Path], nodes: list[str]) -> dict[str, str]:
    sys.path.insert(0, str(REPO))
    from tests.sim import world

    paths["sim"].mkdir(parents=True, exist_ok=True)
    target = world.standard_world(paths["sim"], host=world.ANY_HOST, also=tuple(nodes), pool=POOL)
    return {
        "env_ZFSHA_TOOL_PATH": world.tool_path(),
        "env_ZFSHA_SIM_STATE": str(paths["sim"]),
        "env_ZFSHA_SYSROOT": world.sysroot(paths["sim"]),
        "peer_targets": target,
    }


def up(state_dir: Path, agents: str) -> None:
    paths = _paths(state_dir)
    if paths["peers"].exists():
        raise SystemExit(f"a demo already runs in {state_dir}: python3 -m lab.demo down --state-dir {state_dir}")
    state_dir.mkdir(parents=True, exist_ok=True)
    nodes = ["node1", "node2", "node3"]
    storage = _simulated_storage(paths, nodes)
    env = {key[len("env_") :]: value for key, value in storage.items() if key.startswith("env_")}
    _say(f"starting a three-node cluster ({agents} agents) in {paths['cluster']}")
    cluster = Cluster(paths["cluster"], nodes=3, stonith_enabled=True, agents=agents, extra_env=env)
    cluster.start()
    cluster.detach()

    password = os.urandom(9).hex()
    password_file = _private(paths["secrets"] / "bmc-password", password + "\n")
    peers = {}
    for node in nodes:
        pid, port = _start_bmc(cluster, node, paths, password)
        peers[node] = {"pid": pid, "port": port}
    paths["peers"].write_text(json.dumps(peers))

    _pcs(cluster, "property", "set", "stonith-enabled=true")
    _pcs(cluster, "resource", "defaults", "update", "resource-stickiness=200")
    for node in nodes:
        _pcs(
            cluster, "stonith", "create", f"fence-{node}", "fence_ipmi",
            f"ip={cluster.bridge_address}", f"ipport={peers[node]['port']}", f"username={BMC_USER}",
            f"password_script=/bin/cat {password_file}", "privlvl=administrator", f"pcmk_host_list={node}",
            "op", "monitor", "interval=60s",
        )  # fmt: skip
        _pcs(cluster, "constraint", "location", f"fence-{node}", "avoids", f"{node}=INFINITY")
    _pcs(
        cluster, "resource", "create", "zfs-pool", "ocf:zfsha:zfs-iscsi-pool",
        f"pool={POOL}", f"peer_targets={storage['peer_targets']}", "force_import=true", "--disabled",
        "op", "start", "timeout=150s", "op", "stop", "timeout=90s", "op", "monitor", "interval=10s", "timeout=30s",
    )  # fmt: skip
    _pcs(cluster, "constraint", "location", "zfs-pool", "avoids", f"{QUORUM_NODE}=INFINITY")
    _pcs(cluster, "constraint", "location", "zfs-pool", "prefers", "node1=100")
    _pcs(cluster, "resource", "enable", "zfs-pool")
    where = cluster.wait_started("zfs-pool", timeout=120)
    _say(f"zfs-pool started on {where}\n")
    _say(cluster.run("node1", ["crm_mon", "-1", "-A"], timeout=30).stdout)
    _say(f"fence a storage node:  python3 -m lab.demo fence {where} --state-dir {state_dir}")
    _say(f"tear down:             python3 -m lab.demo down --state-dir {state_dir}")


def fence(state_dir: Path, node: str) -> None:
    paths = _paths(state_dir)
    cluster = Cluster.attach(paths["cluster"])
    survivor = next(name for name in cluster.nodes if name != node and cluster.power_state(name))
    _say(f"# stonith_admin --reboot {node}   (from {survivor})")
    started = time.monotonic()
    done = cluster.run(survivor, ["stonith_admin", "--reboot", node, "--timeout", "120"], timeout=150)
    _say((done.stdout + done.stderr).strip() or f"stonith_admin exited {done.returncode}")
    if done.returncode != 0:
        raise SystemExit(1)
    try:
        where = cluster.wait_started("zfs-pool", via=survivor, timeout=180, exclude=(node,))
    except TimeoutError:
        shown = cluster.run(survivor, ["crm_mon", "-1", "-A", "--show-detail"], timeout=30).stdout
        raise SystemExit(f"zfs-pool did not start on a survivor of {node} within 180 s:\n{shown}") from None
    _say(f"{node} fenced; zfs-pool running on {where} after {time.monotonic() - started:.1f} s\n")
    cluster.wait_online([node], via=survivor, timeout=120)
    _say(cluster.run(survivor, ["crm_mon", "-1", "-A"], timeout=30).stdout)


def down(state_dir: Path) -> None:
    paths = _paths(state_dir)
    if paths["peers"].exists():
        pids = [peer["pid"] for peer in json.loads(paths["peers"].read_text()).values()]
        _stop(pids)
    if (paths["cluster"]).exists():
        try:
            Cluster.attach(paths["cluster"]).stop()
        finally:
            cleanup(paths["cluster"])
            remove_state(paths["cluster"])
    for leftover in (paths["peers"],):
        leftover.unlink(missing_ok=True)
    _say(f"demo in {state_dir} is down")


def _stop(pids: list[int], grace: float = 10.0) -> None:
    """SIGTERM, wait for the processes to be gone, SIGKILL what is left."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    ends = time.monotonic() + grace
    while pids and time.monotonic() < ends:
        pids = [pid for pid in pids if _alive(pid)]
        time.sleep(0.1)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m lab.demo", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="start the demo cluster and configure it with pcs")
    start.add_argument("--agents", choices=("installed", "tree"), default="installed")
    fencing = commands.add_parser("fence", help="fence a node through its BMC and watch the pool move")
    fencing.add_argument("node")
    commands.add_parser("down", help="stop everything the demo started")
    switching = commands.add_parser("power", help="a BMC's power hook: switch a node and its simulated storage")
    switching.add_argument("action", choices=("on", "off"))
    switching.add_argument("node")
    for sub in commands.choices.values():
        sub.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("the demo needs root (network, mount and PID namespaces)")
    if args.command == "up":
        up(args.state_dir.resolve(), args.agents)
    elif args.command == "fence":
        fence(args.state_dir.resolve(), args.node)
    elif args.command == "power":
        power(args.state_dir.resolve(), args.action, args.node)
    else:
        down(args.state_dir.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
