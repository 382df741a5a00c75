"""What every fence agent must do under real Pacemaker, whatever device it drives."""

from __future__ import annotations


def reboot_and_hung_node_are_fenced(cluster, rebooted: str, hung: str) -> None:  # type: ignore[no-untyped-def]
    """`stonith_admin --reboot` really power-cycles `rebooted` (a new init, back online), and a node whose
    corosync is frozen is fenced by Pacemaker on its own and rejoins."""
    before = cluster.init_pid(rebooted)
    result = cluster.run("node1", ["stonith_admin", "--reboot", rebooted, "--timeout", "120"], timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    cluster.wait_for(
        lambda: cluster.power_state(rebooted) and cluster.init_pid(rebooted) != before,
        timeout=30,
        what=f"{rebooted} powered back on",
    )
    cluster.wait_online(cluster.nodes, via="node1", timeout=90)

    frozen = cluster.init_pid(hung)
    cluster.freeze_corosync(hung)
    cluster.wait_for(lambda: not cluster.power_state(hung) or cluster.init_pid(hung) != frozen, timeout=90, what=f"{hung} fenced")
    cluster.wait_online(cluster.nodes, via="node1", timeout=90)
    history = cluster.run("node1", ["stonith_admin", "--history", hung, "--verbose"])
    assert "successful" in history.stdout.lower() or "completed" in history.stdout.lower(), history.stdout
