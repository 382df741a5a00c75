"""The README's demo, as a newcomer runs it: up, fence the node holding the pool, down, nothing left."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.cluster


def demo(*argv: str, timeout: float = 600) -> str:
    done = subprocess.run([sys.executable, "-m", "lab.demo", *argv], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_demo_configures_fences_and_tears_down(nscluster_available, tmp_path):
    state = str(tmp_path / "demo")
    try:
        shown = demo("up", "--state-dir", state, "--agents", "tree")
        assert "Online: [ node1 node2 node3 ]" in shown
        assert "zfs-pool\t(ocf:zfsha:zfs-iscsi-pool):\t Started node1" in shown
        assert "fence-node1\t(stonith:fence_ipmi):\t Started" in shown
        moved = demo("fence", "node1", "--state-dir", state)
        assert "node1 fenced; zfs-pool running on node2" in moved
        assert "Online: [ node1 node2 node3 ]" in moved
    finally:
        demo("down", "--state-dir", state)
    leftovers = subprocess.run(["pgrep", "-f", f"{state}"], capture_output=True, text=True)
    assert leftovers.stdout == "", f"processes left behind: {leftovers.stdout}"
