"""ocf:zfsha:fbsd-jail-nfs run as a process against the FreeBSD command simulator (tests/sim/freebsd)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.sim.freebsd.state import Host, locked
from tests.unit.jail.sim_host import JAIL_CONF, SERVICE_IP, SIM_BIN, build, exit_reason, run_agent

OK, GENERIC, INSTALLED, CONFIGURED, NOT_RUNNING = 0, 1, 5, 6, 7


@pytest.fixture
def sim(tmp_path):
    return build(tmp_path)


def sim_tool(sim, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{SIM_BIN}:/usr/bin:/bin", **sim.env()}
    return subprocess.run([str(SIM_BIN / argv[0]), *argv[1:]], env=env, capture_output=True, text=True)


def test_start_monitor_stop_cycle_is_idempotent_and_leaves_the_host_as_it_was(sim):
    params, env = sim.params(), sim.env()
    assert run_agent("validate-all", params, env).returncode == OK
    assert run_agent("monitor", params, env).returncode == NOT_RUNNING
    started = run_agent("start", params, env)
    assert started.returncode == OK, started.stderr
    state = sim.host.state()
    assert state["interfaces"]["nfs0"]["vnet"] == "iscsinfs"
    assert state["datasets"]["data1/nfs1"]["jail"] == "iscsinfs"
    assert sorted(p["name"] for p in state["jails"]["iscsinfs"]["processes"]) == ["mountd", "nfsd", "nfsd", "rpcbind"]
    assert run_agent("monitor", params, env, interval_ms=20000).returncode == OK
    assert run_agent("monitor", params, env, depth=10, interval_ms=60000).returncode == OK
    assert run_agent("start", params, env).returncode == OK
    assert run_agent("stop", params, env).returncode == OK
    state = sim.host.state()
    assert state["jails"] == {}
    assert state["interfaces"]["nfs0"]["vnet"] is None
    assert state["datasets"]["data1/nfs1"]["jail"] is None
    assert [m["source"] for m in state["mounts"]] == ["data1/jail/iscsinfs"]
    assert run_agent("stop", params, env).returncode == OK
    assert run_agent("monitor", params, env).returncode == NOT_RUNNING


def test_start_never_imports_or_exports_the_pool(sim):
    assert run_agent("start", sim.params(), sim.env()).returncode == OK
    assert run_agent("stop", sim.params(), sim.env()).returncode == OK
    # The simulator has no zpool: any pool command would have failed the actions above. The jail root
    # (on the pool) stays mounted for the pool agent to export.
    assert not (SIM_BIN / "zpool").exists()
    assert any(m["source"] == "data1/jail/iscsinfs" for m in sim.host.state()["mounts"])


def test_start_refuses_when_the_service_address_already_answers_arp(sim):
    sim.host.add_neighbour(SERVICE_IP)
    done = run_agent("start", sim.params(), sim.env())
    assert done.returncode == GENERIC
    assert "already answers ARP" in exit_reason(done)
    assert sim.host.state()["jails"] == {}


def test_start_refuses_when_arping_cannot_probe(sim):
    done = run_agent("start", sim.params(arping_interface="em9"), sim.env())
    assert done.returncode == GENERIC
    assert "could not probe" in exit_reason(done)
    assert sim.host.state()["jails"] == {}


def test_start_without_nfsd_module_is_not_installed_here(sim):
    sim.host.update(kld=["kernel", "zfs"])
    done = run_agent("start", sim.params(), sim.env())
    assert done.returncode == INSTALLED
    assert "nfsd kernel module is not loaded" in exit_reason(done)


def test_start_with_missing_interface_is_not_installed_here(sim):
    sim.host.update(interfaces={})
    done = run_agent("start", sim.params(), sim.env())
    assert done.returncode == INSTALLED
    assert "network interface nfs0 does not exist" in exit_reason(done)


def test_start_fails_when_the_dataset_is_busy_in_another_jail_and_cleans_up(sim, tmp_path):
    other_root = tmp_path / "other"
    other_root.mkdir()
    other_conf = tmp_path / "other.conf"
    other_conf.write_text(f'other {{ path = "{other_root}"; vnet; persist; }}\n')
    assert sim_tool(sim, "jail", "-f", str(other_conf), "-c", "other").returncode == 0
    assert sim_tool(sim, "zfs", "jail", "other", "data1/nfs1").returncode == 0
    done = run_agent("start", sim.params(), sim.env())
    assert done.returncode == GENERIC
    assert "dataset busy" in exit_reason(done) and "pool or dataset is busy" in exit_reason(done)
    state = sim.host.state()
    assert "iscsinfs" not in state["jails"]
    assert state["interfaces"]["nfs0"]["vnet"] is None


def test_start_fails_while_a_jail_of_that_name_is_still_dying(sim):
    assert run_agent("start", sim.params(), sim.env()).returncode == OK
    sim.host.set_fault("unkillable", ["nfsd"])
    stopped = run_agent("stop", sim.params(), sim.env())
    assert stopped.returncode == GENERIC
    assert "still has processes after jail -r" in exit_reason(stopped)
    done = run_agent("start", sim.params(), sim.env())
    assert done.returncode == GENERIC
    assert "still dying" in exit_reason(done)
    # jail(8) itself refuses the name the same way, which is what start would meet in a race.
    created = sim_tool(sim, "jail", "-f", str(sim.conf), "-c", "iscsinfs")
    assert created.returncode == 1 and 'jail "iscsinfs" already exists' in created.stderr


def test_start_fails_when_the_jail_already_exists_but_does_not_serve(sim):
    assert sim_tool(sim, "jail", "-f", str(sim.conf), "-c", "iscsinfs").returncode == 0
    again = sim_tool(sim, "jail", "-f", str(sim.conf), "-c", "iscsinfs")
    assert again.returncode == 1 and again.stderr.strip() == 'jail: "iscsinfs" already exists'
    done = run_agent("start", sim.params(), sim.env())
    assert done.returncode == GENERIC
    assert "already runs but is not serving" in exit_reason(done)
    assert run_agent("stop", sim.params(), sim.env()).returncode == OK
    assert sim.host.state()["jails"] == {}


def test_monitor_fails_when_nfsd_dies_inside_the_jail(sim):
    assert run_agent("start", sim.params(), sim.env()).returncode == OK
    with locked(sim.base) as state:
        jail = state["jails"]["iscsinfs"]
        jail["processes"] = [p for p in jail["processes"] if p["name"] != "nfsd"]
    done = run_agent("monitor", sim.params(), sim.env(), interval_ms=20000)
    assert done.returncode == GENERIC
    assert "nfsd is not running in jail iscsinfs" in exit_reason(done)
    assert run_agent("stop", sim.params(), sim.env()).returncode == OK


def test_deep_monitor_asks_nfs_for_every_configured_version(sim):
    (sim.root / "etc" / "rc.conf").write_text((sim.root / "etc" / "rc.conf").read_text().replace('nfsv4_server_enable="YES"', ""))
    assert run_agent("start", sim.params(nfs_versions="3"), sim.env()).returncode == OK
    assert run_agent("monitor", sim.params(nfs_versions="3"), sim.env(), depth=10).returncode == OK
    done = run_agent("monitor", sim.params(), sim.env(), depth=10, interval_ms=60000)
    assert done.returncode == GENERIC
    assert "NFSv4 does not answer at 169.254.213.4" in exit_reason(done)
    # depth 0 only looks at the daemons, which still run.
    assert run_agent("monitor", sim.params(), sim.env(), interval_ms=20000).returncode == OK
    assert run_agent("stop", sim.params(), sim.env()).returncode == OK


def test_start_gives_up_when_exports_are_not_served_and_leaves_nothing_running(sim):
    (sim.root / "etc" / "exports").write_text("/export/missing -alldirs -sec=sys\n")
    done = run_agent("start", sim.params(), sim.env(), timeout_ms=8000)
    assert done.returncode == GENERIC
    assert "exports nothing" in exit_reason(done)
    state = sim.host.state()
    assert state["jails"] == {} and state["interfaces"]["nfs0"]["vnet"] is None


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (("    persist;\n", '    persist;\n    exec.start = "/bin/sh /etc/rc";\n'), "exec.start is set"),
        (("enforce_statfs = 1", "enforce_statfs = 2"), "enforce_statfs is 2; mounting and exporting"),
        (("    allow.nfsd;\n", ""), "allow.nfsd is not set"),
        (("    vnet;\n", ""), "vnet is not set"),
    ],
)
def test_start_refuses_a_jail_conf_that_cannot_serve_nfs(tmp_path, change, complaint):
    sim = build(tmp_path, JAIL_CONF.replace(*change))
    done = run_agent("start", sim.params(), sim.env())
    assert done.returncode == CONFIGURED
    assert complaint in exit_reason(done)
    assert sim.host.state()["jails"] == {}


def test_start_refuses_when_the_jail_root_is_not_a_mount_point(sim):
    sim.host.update(mounts=[])
    done = run_agent("start", sim.params(), sim.env())
    assert done.returncode == GENERIC
    assert "is not a mount point" in exit_reason(done)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("service_ip", "nfs.example.com"),
        ("jail", "a.b"),
        ("nfs_versions", "2"),
        ("datasets", "/export/nfs1"),
        ("config", "jail.conf"),
    ],
)
def test_validate_refuses_bad_parameters(sim, name, value):
    done = run_agent("validate-all", sim.params(**{name: value}), sim.env())
    assert done.returncode == CONFIGURED
    assert name in exit_reason(done) or value in exit_reason(done)


def test_validate_at_depth_10_checks_the_host_through_the_simulator(sim):
    assert run_agent("validate-all", sim.params(), sim.env(), depth=10).returncode == OK
    Host(sim.base).update(kld=["kernel"])
    assert run_agent("validate-all", sim.params(), sim.env(), depth=10).returncode == INSTALLED


@pytest.mark.skipif(shutil.which("jail") is not None, reason="this host has a jail(8)")
def test_validate_at_depth_10_on_linux_says_freebsd_is_needed(sim):
    done = run_agent("validate-all", sim.params(), {}, depth=10)
    assert done.returncode == INSTALLED
    assert "needs FreeBSD" in exit_reason(done)
    assert run_agent("monitor", sim.params(), {}).returncode == NOT_RUNNING
    assert run_agent("stop", sim.params(), {}).returncode == OK
