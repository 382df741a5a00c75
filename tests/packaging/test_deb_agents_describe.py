"""The agents of the built .deb really work for Pacemaker's tools: the package is unpacked and, in a
private mount namespace, laid over the standard paths (the way lab.nscluster's tree mode lays the
working tree there), then pcs describes every agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.nscluster.tree import DIST_PACKAGES, OCF_PROVIDER_DIR, ensure_provider_dir, run_over_package

from .conftest import is_root, require_tools, tree_agents, tree_fence_agents


@pytest.fixture(scope="module")
def unpacked(deb_root: Path) -> Path:
    if not is_root():
        pytest.skip("mount namespaces need root")
    require_tools("pcs", "unshare", "stonith_admin")
    ensure_provider_dir()
    return deb_root


def test_the_namespace_sees_the_packaged_files(unpacked: Path) -> None:
    """Proves the describes below read the package, not an installed zfsha or the tree."""
    agent = tree_agents()[0]
    fence = tree_fence_agents()[0]
    done = run_over_package(
        unpacked,
        [
            "cmp",
            str(unpacked / "usr/lib/ocf/resource.d/zfsha" / agent),
            f"{OCF_PROVIDER_DIR}/{agent}",
            "--",
        ],
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for packaged, seen in (
        (unpacked / "usr/sbin" / fence, f"/usr/sbin/{fence}"),
        (unpacked / DIST_PACKAGES.lstrip("/") / "zfsha/run.py", f"{DIST_PACKAGES}/zfsha/run.py"),
    ):
        done = run_over_package(unpacked, ["cmp", str(packaged), seen])
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("agent", tree_agents())
def test_pcs_describes_packaged_ocf_agent(unpacked: Path, agent: str) -> None:
    done = run_over_package(unpacked, ["pcs", "resource", "describe", f"ocf:zfsha:{agent}"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ocf:zfsha:{agent}" in done.stdout


@pytest.mark.parametrize("agent", tree_fence_agents())
def test_pcs_describes_packaged_fence_agent(unpacked: Path, agent: str) -> None:
    done = run_over_package(unpacked, ["pcs", "stonith", "describe", agent])
    assert done.returncode == 0, done.stdout + done.stderr
    assert agent in done.stdout
