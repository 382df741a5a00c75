"""Fixtures for the real-Pacemaker tier: clusters of namespace nodes (lab.nscluster).

Clusters run the agents from the working tree unless ZFSHA_TEST_AGENTS=installed. Override the
`nscluster_extra_env` fixture in a conftest below this one to give the daemons (and so the agents)
more environment, e.g. ZFSHA_TOOL_PATH. NSCLUSTER_KEEP=1 keeps the state directories (logs).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

repo_root = Path(__file__).resolve().parents[2]
if str(repo_root) not in sys.path:
    sys.path.insert(0, str(repo_root))

from lab.nscluster import Cluster, cleanup_stale, remove_state  # noqa: E402

REQUIRED_TOOLS = ("corosync", "pacemakerd", "crm_mon", "pcs", "cibadmin", "nsenter", "unshare", "ip")


def why_no_cluster() -> str | None:
    """The only reasons to skip: not root, or Pacemaker's stack is not installed."""
    if os.geteuid() != 0:
        return "namespace clusters need root (netns, mounts, PID namespaces)"
    path = "/usr/sbin:/usr/bin:/sbin:/bin"
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool, path=path) is None]
    if missing:
        return f"pacemaker/corosync/pcs not installed (missing {', '.join(missing)})"
    return None


def finish(cluster: Cluster) -> None:
    cluster.stop()
    if os.environ.get("NSCLUSTER_KEEP"):
        print(f"nscluster state kept: {cluster.state_dir}")
    else:
        remove_state(cluster.state_dir)


ClusterFactory = Callable[..., Cluster]


@pytest.fixture(scope="session")
def nscluster_extra_env() -> dict[str, str]:
    """Extra environment of every cluster's daemons; override to add ZFSHA_TOOL_PATH etc."""
    return {}


@pytest.fixture(scope="session")
def nscluster_available() -> None:
    reason = why_no_cluster()
    if reason:
        pytest.skip(reason)
    # Clusters of an earlier run that was killed before its teardown (their owner is dead).
    cleanup_stale()


def _started(tmp_path_factory: pytest.TempPathFactory, default_env: dict[str, str], nodes: int, **options: object) -> Cluster:
    options.setdefault("extra_env", default_env)
    state_dir = tmp_path_factory.mktemp(f"nscluster{nodes}-")
    cluster = Cluster(state_dir, nodes=nodes, **options)  # type: ignore[arg-type]
    try:
        cluster.start()
    except BaseException:
        finish(cluster)
        raise
    return cluster


@pytest.fixture
def make_cluster(
    nscluster_available: None, tmp_path_factory: pytest.TempPathFactory, nscluster_extra_env: dict[str, str]
) -> Iterator[ClusterFactory]:
    """make_cluster(nodes=3, stonith_enabled=..., extra_env=..., agents=..., ...) -> started
    Cluster; every cluster made is torn down when the test ends."""
    made: list[Cluster] = []

    def make(nodes: int = 3, **options: object) -> Cluster:
        cluster = _started(tmp_path_factory, nscluster_extra_env, nodes, **options)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        finish(cluster)


@pytest.fixture(scope="module")
def one_node_cluster(
    nscluster_available: None, tmp_path_factory: pytest.TempPathFactory, nscluster_extra_env: dict[str, str]
) -> Iterator[Cluster]:
    """node1 alone, online, stonith disabled; shared by the tests of one module."""
    cluster = _started(tmp_path_factory, nscluster_extra_env, 1, stonith_enabled=False)
    yield cluster
    finish(cluster)


@pytest.fixture(scope="module")
def three_node_cluster(
    nscluster_available: None, tmp_path_factory: pytest.TempPathFactory, nscluster_extra_env: dict[str, str]
) -> Iterator[Cluster]:
    """node1..node3, all online, stonith disabled; shared by the tests of one module, so a test
    that powers a node off powers it back on before it ends."""
    cluster = _started(tmp_path_factory, nscluster_extra_env, 3, stonith_enabled=False)
    yield cluster
    finish(cluster)
