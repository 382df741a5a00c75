"""The namespace-cluster harness itself: real corosync + pacemaker nodes that come online, run
resources, lose power, come back, and leave nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.nscluster import Cluster, NodeOff, run_with_tree
from lab.nscluster.network import existing_netns
from lab.nscluster.procs import is_alive

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.cluster

PROBE_AGENT = textwrap.dedent("""\
    #!/bin/sh
    # A minimal OCF agent that records the environment Pacemaker gives it.
    state=/run/probe-$OCF_RESOURCE_INSTANCE
    case "$1" in
    meta-data)
        cat <<'EOF'
    <?xml version="1.0"?>
    <resource-agent name="probe" version="1.0">
      <version>1.0</version>
      <longdesc lang="en">Records its environment.</longdesc>
      <shortdesc lang="en">probe</shortdesc>
      <parameters/>
      <actions>
        <action name="start" timeout="20s"/>
        <action name="stop" timeout="20s"/>
        <action name="monitor" timeout="20s" interval="10s"/>
        <action name="meta-data" timeout="5s"/>
      </actions>
    </resource-agent>
    EOF
        exit 0;;
    start) env > "$state.env"; touch "$state"; exit 0;;
    stop) rm -f "$state"; exit 0;;
    monitor) [ -e "$state" ] && exit 0; exit 7;;
    *) exit 3;;
    esac
    """)


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The harness CLI in a separate process, as BMC emulators and the demo use it."""
    return subprocess.run(
        [sys.executable, "-m", "lab.nscluster", *args], cwd=REPO_ROOT, check=check, capture_output=True, text=True, timeout=120
    )


def make_probe_tree(root: Path) -> Path:
    """A stand-in working tree with one OCF agent and one fence agent."""
    for directory in ("agents", "fence", "lib"):
        (root / directory).mkdir(parents=True)
    agent = root / "agents" / "probe"
    agent.write_text(PROBE_AGENT)
    agent.chmod(0o755)
    fence = root / "fence" / "fence_probe"
    fence.write_text("#!/bin/sh\nexit 0\n")
    fence.chmod(0o755)
    return root


def test_one_node_comes_online(one_node_cluster: Cluster) -> None:
    assert one_node_cluster.node_online("node1", via="node1")
    hostname = one_node_cluster.run("node1", ["hostname"], check=True).stdout.strip()
    assert hostname == "node1"


def test_three_nodes_online_and_a_dummy_resource_starts(three_node_cluster: Cluster) -> None:
    cluster = three_node_cluster
    assert sorted(cluster.online_nodes(via="node2")) == ["node1", "node2", "node3"]
    created = cluster.run("node1", ["pcs", "resource", "create", "d", "ocf:pacemaker:Dummy"])
    assert created.returncode == 0, created.stderr
    assert cluster.wait_started("d", timeout=30) in cluster.nodes


def test_power_off_moves_the_resource_to_a_surviving_node(three_node_cluster: Cluster) -> None:
    cluster = three_node_cluster
    created = cluster.run("node2", ["pcs", "resource", "create", "mover", "ocf:pacemaker:Dummy"])
    assert created.returncode == 0, created.stderr
    first = cluster.wait_started("mover", timeout=30)
    survivor = next(name for name in cluster.nodes if name != first)

    cluster.power_off(first)
    try:
        assert not cluster.power_state(first)
        with pytest.raises(NodeOff):
            cluster.daemon_pid(first, "corosync")
        moved_to = cluster.wait_started("mover", via=survivor, exclude=[first], timeout=60)
        assert moved_to != first
    finally:
        cluster.power_on(first, boot_delay=0)
        cluster.wait_online(via=survivor, timeout=60)


def test_power_cycle_from_another_process_rejoins(three_node_cluster: Cluster) -> None:
    cluster = three_node_cluster
    state_dir = str(cluster.state_dir)
    old_corosync = cluster.daemon_pid("node3", "corosync")

    cli("power", "off", "--state-dir", state_dir, "node3")
    assert cli("power", "status", "--state-dir", state_dir, "node3").stdout.strip() == "off"
    cluster.wait_for(lambda: not cluster.node_online("node3", via="node1"), timeout=60, what="node3 seen offline")

    cli("power", "on", "--boot-delay", "2", "--state-dir", state_dir, "node3")
    # On at once, like a chassis during POST, before any daemon runs.
    assert cli("power", "status", "--state-dir", state_dir, "node3").stdout.strip() == "on"
    cluster.wait_online(["node1", "node2", "node3"], via="node1", timeout=60)
    assert cluster.daemon_pid("node3", "corosync") != old_corosync


def test_frozen_corosync_drops_the_node_until_thawed(three_node_cluster: Cluster) -> None:
    cluster = three_node_cluster
    cluster.freeze_corosync("node3")
    try:
        cluster.wait_for(
            lambda: not cluster.node_online("node3", via="node1"), timeout=60, what="node3 seen offline while frozen"
        )
        assert cluster.power_state("node3")
    finally:
        cluster.thaw_corosync("node3")
    cluster.wait_online(via="node1", timeout=60)


def test_bridge_process_is_reachable_from_every_node(three_node_cluster: Cluster) -> None:
    cluster = three_node_cluster
    server = cluster.spawn_in_bridge(
        ["/usr/bin/python3", "-m", "http.server", "--bind", cluster.bridge_address, "8099"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Still in the host PID namespace, so its callbacks can drive the power CLI.
        assert os.readlink(f"/proc/{server.pid}/ns/pid") == os.readlink("/proc/self/ns/pid")
        fetch = (
            "import urllib.request, sys\n"
            f"print(urllib.request.urlopen('http://{cluster.bridge_address}:8099/', timeout=2).status)"
        )
        for name in cluster.nodes:
            result = cluster.wait_for(
                lambda name=name: (r := cluster.run(name, ["python3", "-c", fetch])).returncode == 0 and r,
                timeout=10,
                what=f"{name} reaching the bridge",
            )
            assert result.stdout.strip() == "200"
    finally:
        server.kill()
        server.wait()


def test_tree_agents_are_what_nodes_and_host_commands_see(make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    tree = make_probe_tree(tmp_path / "tree")
    cluster = make_cluster(1, repo=tree, agents="tree", extra_env={"ZFSHA_PROBE": "from-test"})

    created = cluster.run("node1", ["pcs", "resource", "create", "p", "ocf:zfsha:probe"])
    assert created.returncode == 0, created.stderr
    cluster.wait_started("p", timeout=30)
    agent_env = dict(
        line.split("=", 1) for line in cluster.run("node1", ["cat", "/run/probe-p.env"], check=True).stdout.splitlines()
    )
    assert agent_env["PATH"] == "/usr/sbin:/usr/bin:/sbin:/bin"
    assert agent_env["ZFSHA_PROBE"] == "from-test"
    assert agent_env["PYTHONPATH"].split(":")[0] == str(tree / "lib")
    assert cluster.run("node1", ["test", "-x", "/usr/sbin/fence_probe"]).returncode == 0
    assert cluster.run("node1", ["test", "-x", "/usr/sbin/corosync"]).returncode == 0
    assert not Path("/usr/sbin/fence_probe").exists()

    described = run_with_tree(["crm_resource", "--show-metadata", "ocf:zfsha:probe"], repo=tree)
    assert described.returncode == 0, described.stderr
    assert 'name="probe"' in described.stdout
    assert run_with_tree(["test", "-x", "/usr/sbin/fence_probe"], repo=tree).returncode == 0
    installed = run_with_tree(["crm_resource", "--show-metadata", "ocf:zfsha:probe"], repo=tree, agents="installed")
    assert installed.returncode != 0


def test_cli_up_exec_down_leaves_nothing(nscluster_available: None, tmp_path: Path) -> None:
    state_dir = str(tmp_path / "state")
    cli("up", "--state-dir", state_dir, "--nodes", "2")
    cluster = Cluster.attach(state_dir)
    try:
        shown = cli("exec", "--state-dir", state_dir, "node2", "--", "crm_mon", "-1", check=False)
        assert shown.returncode == 0, shown.stderr
        assert "Online: [ node1 node2 ]" in shown.stdout
        left_behind = cluster.spawn_in_bridge(["sleep", "600"])
        pids = [pid for name in cluster.nodes for pid in cluster.node_pids(name)]
        assert {"corosync", "pacemakerd"} <= set(cluster.node_pids("node1").values())
        netns = {cluster.spec.bridge_netns, *(node.netns for node in cluster.spec.nodes)}
        assert netns <= existing_netns()
    finally:
        cli("down", "--state-dir", state_dir)

    # down killed the process left in the bridge too; wait() reaps it.
    assert left_behind.wait(timeout=10) != 0
    assert [pid for pid in pids if is_alive(pid)] == []
    assert not netns & existing_netns()
    assert state_dir not in Path("/proc/self/mountinfo").read_text()
    assert cli("power", "status", "--state-dir", state_dir, "node1").stdout.strip() == "off"
