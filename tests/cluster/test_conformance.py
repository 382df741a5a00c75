"""The conformance suite: every agent in agents/ and fence/ held to the same real-Pacemaker checks.

OCF agents go through the ocf-tester action sequence with `crm_resource --force-*` (no cluster), then
through a live one-node cluster with `pcs resource create/disable/enable/delete`. Fence agents go
through `stonith_admin --metadata/--validate` and a real `stonith_admin --reboot` through
pacemaker-fenced against their real device peer, which powers a namespace node off and on.
Each agent supplies a profile (tests/conformance_profiles) so the suite itself knows no agent.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path

import pytest
from lxml import etree

from lab.nscluster import run_with_tree
from tests.conformance_profiles import PeerSetup, PowerHooks, module_for

REPO = Path(__file__).resolve().parents[2]
OCF_AGENTS = sorted(p.name for p in (REPO / "agents").iterdir() if p.is_file())
FENCE_AGENTS = sorted(p.name for p in (REPO / "fence").glob("fence_*"))

pytestmark = pytest.mark.cluster

# crm_resource exits with the agent's OCF status for --force-* and --validate.
OK, NOT_RUNNING = 0, 7
CONFIG_ERRORS = (2, 6)


def options(params: Mapping[str, str]) -> list[str]:
    return [arg for name, value in params.items() for arg in ("--option", f"{name}={value}")]


def crm_resource(action: str, agent: str, params: Mapping[str, str], env: Mapping[str, str]) -> tuple[int, str]:
    argv = ["crm_resource", f"--{action}", "--class", "ocf", "--provider", "zfsha", "--agent", agent, *options(params)]
    done = run_with_tree(argv, env=env)
    return done.returncode, done.stdout + done.stderr


def expect(agent: str, action: str, params: Mapping[str, str], env: Mapping[str, str], status: int | Sequence[int]) -> str:
    wanted = (status,) if isinstance(status, int) else tuple(status)
    got, output = crm_resource(action, agent, params, env)
    assert got in wanted, f"{agent} {action}: exit {got}, expected {wanted}\n{output}"
    return output


@pytest.fixture
def profile(agent, tmp_path):
    with module_for(agent).resource(tmp_path) as made:
        yield made


@pytest.mark.parametrize("agent", OCF_AGENTS)
def test_ocf_tester_sequence_through_crm_resource(agent, profile):
    env = profile.env
    metadata = run_with_tree(["crm_resource", "--show-metadata", f"ocf:zfsha:{agent}"], env=env)
    assert metadata.returncode == 0, metadata.stderr
    assert etree.fromstring(metadata.stdout.encode()).get("name") == agent
    described = run_with_tree(["pcs", "resource", "describe", f"ocf:zfsha:{agent}"], env=env)
    assert described.returncode == 0, described.stderr

    expect(agent, "validate", profile.params, env, OK)
    expect(agent, "force-check", profile.params, env, NOT_RUNNING)
    expect(agent, "force-start", profile.params, env, OK)
    expect(agent, "force-check", profile.params, env, OK)
    expect(agent, "force-stop", profile.params, env, OK)
    expect(agent, "force-check", profile.params, env, NOT_RUNNING)
    expect(agent, "force-start", profile.params, env, OK)
    expect(agent, "force-start", profile.params, env, OK)
    expect(agent, "force-stop", profile.params, env, OK)
    expect(agent, "force-stop", profile.params, env, OK)
    expect(agent, "force-check", profile.params, env, NOT_RUNNING)


@pytest.mark.parametrize("agent", OCF_AGENTS)
def test_bad_parameters_get_a_configuration_error_with_a_reason(agent, profile):
    output = expect(agent, "validate", profile.invalid_params, profile.env, CONFIG_ERRORS)
    assert "ocf-exit-reason" in output or "error" in output.lower(), output
    # A stop or probe of a resource whose configuration is invalid must not fail.
    expect(agent, "force-stop", profile.invalid_params, profile.env, OK)
    expect(agent, "force-check", profile.invalid_params, profile.env, NOT_RUNNING)


def pcs(cluster, *argv: str, check: bool = True):
    done = cluster.run("node1", ["pcs", *argv], timeout=120)
    if check:
        assert done.returncode == 0, f"pcs {' '.join(argv)}: {done.stdout}{done.stderr}"
    return done


def resource_failures(cluster, resource: str) -> list:
    status = cluster.crm_mon("node1")
    if status is None:
        return []
    return [f for f in status.iter("failure") if f.get("op_key", "").startswith(f"{resource}_")]


@pytest.mark.parametrize("agent", OCF_AGENTS)
def test_live_pacemaker_create_disable_enable_delete(agent, make_cluster, tmp_path):
    with module_for(agent).resource(tmp_path / "profile") as made:
        cluster = make_cluster(nodes=1, extra_env=made.env)
        cluster.wait_online()
        params = [f"{name}={value}" for name, value in made.params.items()]
        pcs(cluster, "resource", "create", "sut", f"ocf:zfsha:{agent}", *params, "op", "monitor", "interval=5s")
        cluster.wait_started("sut", timeout=60)
        pcs(cluster, "resource", "disable", "sut", "--wait=60")
        assert cluster.resource_nodes("sut") == []
        pcs(cluster, "resource", "enable", "sut", "--wait=60")
        cluster.wait_started("sut", timeout=60)
        assert resource_failures(cluster, "sut") == []
        pcs(cluster, "resource", "delete", "sut", "--force")
        cluster.wait_for(lambda: not cluster.resource_nodes("sut"), timeout=60, what="sut gone")

        bad = [f"{name}={value}" for name, value in made.invalid_params.items()]
        pcs(cluster, "resource", "create", "broken", f"ocf:zfsha:{agent}", *bad, "--force")

        def failed_with_reason():
            return [f for f in resource_failures(cluster, "broken") if f.get("exitreason")]

        failures = cluster.wait_for(failed_with_reason, timeout=60, what="broken resource failure with a reason")
        assert failures[0].get("exitcode") in ("2", "6"), failures[0].attrib
        pcs(cluster, "resource", "delete", "broken", "--force")


@pytest.mark.parametrize("agent", FENCE_AGENTS)
def test_stonith_admin_metadata_and_validate(agent, tmp_path):
    metadata = run_with_tree(["stonith_admin", "--metadata", "--agent", agent])
    assert metadata.returncode == 0, metadata.stderr
    assert etree.fromstring(metadata.stdout.encode()).get("name") == agent
    described = run_with_tree(["pcs", "stonith", "describe", agent])
    assert described.returncode == 0, described.stderr
    hooks = {"outlet1": PowerHooks(off=["true"], on=["true"])}
    setup = PeerSetup(tmp_path, "127.0.0.1", hooks, lambda argv: subprocess.Popen(list(argv)))
    with module_for(agent).device(setup) as device_options:
        valid = run_with_tree(["stonith_admin", "--validate", "--agent", agent, *options(device_options)])
        assert valid.returncode == 0, valid.stdout + valid.stderr
        broken = {**device_options, "method": "no-such-method"}
        invalid = run_with_tree(["stonith_admin", "--validate", "--agent", agent, *options(broken)])
        assert invalid.returncode != 0, invalid.stdout


@pytest.mark.parametrize("agent", FENCE_AGENTS)
def test_stonith_admin_reboot_through_pacemaker_fenced(agent, make_cluster, tmp_path):
    cluster = make_cluster(nodes=3, stonith_enabled=True)
    cluster.wait_online()
    power = [sys.executable, "-m", "lab.nscluster", "power"]
    hooks = {
        node: PowerHooks(
            off=[*power, "off", node, "--state-dir", str(cluster.state_dir)],
            on=[*power, "on", node, "--state-dir", str(cluster.state_dir)],
        )
        for node in cluster.nodes
    }
    setup = PeerSetup(tmp_path, cluster.bridge_address, hooks, lambda argv: cluster.spawn_in_bridge(list(argv), cwd=str(REPO)))
    profile = module_for(agent)
    with ExitStack() as stack:
        if getattr(profile, "ONE_MACHINE_PER_DEVICE", False):
            # One device powers one machine (a BMC): one stonith device per node.
            per_node = stack.enter_context(profile.devices(setup))
            fencers = [f"fence-{node}" for node in cluster.nodes]
            for node in cluster.nodes:
                pcs(
                    cluster,
                    "stonith",
                    "create",
                    f"fence-{node}",
                    agent,
                    *[f"{k}={v}" for k, v in per_node[node].items()],
                    f"pcmk_host_list={node}",
                    "op",
                    "monitor",
                    "interval=30s",
                )
        else:
            device_options = stack.enter_context(profile.device(setup))
            host_map = ";".join(f"{node}:{node}" for node in cluster.nodes)
            fencers = ["fencer"]
            pcs(
                cluster,
                "stonith",
                "create",
                "fencer",
                agent,
                *[f"{k}={v}" for k, v in device_options.items()],
                f"pcmk_host_map={host_map}",
                "op",
                "monitor",
                "interval=30s",
            )
        for fencer in fencers:
            cluster.wait_started(fencer, timeout=60)
        done = cluster.run("node1", ["stonith_admin", "--reboot", "node3", "--timeout", "90"], timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        history = cluster.run("node1", ["stonith_admin", "--history", "node3", "--verbose"], timeout=30)
        assert "reboot" in history.stdout and "successful" in history.stdout.lower(), history.stdout
        cluster.wait_online(["node3"], via="node1", timeout=90)
