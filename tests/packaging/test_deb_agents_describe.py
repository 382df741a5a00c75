"""The agents of the built .deb really work for Pacemaker's tools: the package is unpacked and, in a
private mount namespace, laid over the standard paths (the way lab.nscluster's tree mode lays the
working tree there), then pcs describes every agent."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lab.nscluster.tree import DIST_PACKAGES, OCF_PROVIDER_DIR, ensure_provider_dir, run_with_mounts

from .conftest import is_root, require_tools, tree_agents, tree_fence_agents


def package_mounts(root: Path) -> list[dict]:
    """boot.py mount operations putting the unpacked package where it would be installed."""
    return [
        {"type": "bind", "src": str(root / OCF_PROVIDER_DIR.relative_to("/")), "dst": str(OCF_PROVIDER_DIR), "ro": True},
        {"type": "overlay", "lower": [str(root / "usr/sbin"), "/usr/sbin"], "dst": "/usr/sbin"},
        {"type": "overlay", "lower": [str(root / DIST_PACKAGES.lstrip("/")), DIST_PACKAGES], "dst": DIST_PACKAGES},
    ]


def run_over_package(root: Path, argv: list[str]) -> subprocess.CompletedProcess[str]:
    # overlayfs splits lowerdir on ':' and mount options on ','.
    assert ":" not in str(root) and "," not in str(root), root
    return run_with_mounts(argv, package_mounts(root))


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
