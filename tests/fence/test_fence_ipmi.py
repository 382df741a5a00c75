"""fence_ipmi against a real BMC (pyghmi's BMC server, lab.peers.ipmi) on loopback, run as Pacemaker
runs it: a process with its options on stdin. What counts is the chassis power the BMC reports, and
that ipmitool and fence_ipmilan, driving the same BMC, see the same thing."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from lab.nscluster import Cluster, remove_state
from tests.fence.cluster_checks import reboot_and_hung_node_are_fenced
from tests.fence.ipmi_fixtures import (
    AGENT,
    KG_HEX,
    PASSWORD,
    REPO,
    USERNAME,
    bmc_in_bridge,
    bmc_options,
    closed_udp_port,
    fence_ipmi,
    fence_ipmilan,
    ipmitool,
    nmi_capable_bmc,
    power_changes,
    running_bmc,
    secret_file,
    silent_udp_port,
    stonith_create,
)

METADATA_RNG = Path("/usr/share/cluster/relaxng/metadata.rng")


def one_line_failure(result) -> str:  # type: ignore[no-untyped-def]
    """The failure reason, checked to be a single line without a traceback or the password."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    text = result.stdout + result.stderr
    assert "Traceback" not in text
    assert PASSWORD not in text
    lines = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_off_on_and_status_follow_the_chassis_power_the_bmc_reports():
    with running_bmc() as bmc:
        off = fence_ipmi(bmc_options(bmc, action="off"))
        assert (off.returncode, off.stdout.strip()) == (0, "Success: Powered OFF")
        assert bmc.state == {"chassis": False}
        status = fence_ipmi(bmc_options(bmc, action="status"))
        assert (status.returncode, status.stdout.strip()) == (2, "Status: OFF")
        on = fence_ipmi(bmc_options(bmc, action="on"))
        assert (on.returncode, on.stdout.strip()) == (0, "Success: Powered ON")
        assert bmc.state == {"chassis": True}
        assert fence_ipmi(bmc_options(bmc, action="status")).returncode == 0
        assert fence_ipmi(bmc_options(bmc, action="monitor")).returncode == 0
        assert power_changes(bmc) == ["off", "on"]


def test_reboot_powers_off_then_on_and_says_so_only_after_the_bmc_reports_on():
    with running_bmc() as bmc:
        result = fence_ipmi(bmc_options(bmc, action="reboot", port="node2"))
        assert (result.returncode, result.stdout.strip()) == (0, "Success: Rebooted")
        assert power_changes(bmc) == ["off", "on"]
        assert bmc.state == {"chassis": True}


def test_reboot_of_a_machine_that_is_off_powers_it_on():
    with running_bmc(on=False) as bmc:
        assert fence_ipmi(bmc_options(bmc, action="reboot")).returncode == 0
        assert power_changes(bmc) == ["on"]


def test_method_cycle_uses_the_bmc_power_cycle_and_powers_on_a_machine_that_is_off():
    with running_bmc() as bmc:
        assert fence_ipmi(bmc_options(bmc, action="reboot", method="cycle")).returncode == 0
        assert power_changes(bmc) == ["off", "on"]
    with running_bmc(on=False) as bmc:
        # A chassis that is off cannot cycle (the BMC answers 0xD5): fence_ipmi powers it on instead.
        assert fence_ipmi(bmc_options(bmc, action="reboot", method="cycle")).returncode == 0
        assert power_changes(bmc) == ["on"]


def test_fence_ipmi_ipmitool_and_fence_ipmilan_agree_on_the_same_bmc():
    with running_bmc() as bmc:
        assert ipmitool(bmc, "chassis", "power", "off").returncode == 0
        assert fence_ipmi(bmc_options(bmc, action="status")).stdout.strip() == "Status: OFF"
        assert fence_ipmilan(bmc_options(bmc, action="status")).stdout.strip() == "Status: OFF"

        assert fence_ipmilan(bmc_options(bmc, action="on")).returncode == 0
        assert fence_ipmi(bmc_options(bmc, action="status")).stdout.strip() == "Status: ON"
        assert "Chassis Power is on" in ipmitool(bmc, "chassis", "power", "status").stdout

        assert fence_ipmi(bmc_options(bmc, action="off")).returncode == 0
        assert "Chassis Power is off" in ipmitool(bmc, "chassis", "power", "status").stdout
        assert fence_ipmilan(bmc_options(bmc, action="status")).returncode == 2
        assert power_changes(bmc) == ["off", "on", "off"]


def test_password_from_a_password_script_logs_in():
    with running_bmc() as bmc:
        import tempfile

        with tempfile.TemporaryDirectory() as directory:
            secret = secret_file(Path(directory), "bmc-password", PASSWORD)
            options = bmc_options(bmc, action="status", password_script=f"/bin/cat {secret}")
            del options["password"]
            assert fence_ipmi(options).returncode == 0


def test_wrong_password_fails_at_once_with_a_reason_that_does_not_hold_it(tmp_path):
    debug_log = tmp_path / "debug.log"
    with running_bmc() as bmc:
        result = fence_ipmi(bmc_options(bmc, action="off", password="Wrong-Pass-19", verbose="1", debug_file=str(debug_log)))
        assert "wrong password" in one_line_failure(result)
        assert "Wrong-Pass-19" not in result.stderr + debug_log.read_text()
        assert bmc.state == {"chassis": True}


def test_kg_must_match_the_bmc_key():
    with running_bmc(kg=True) as bmc:
        assert fence_ipmi(bmc_options(bmc, action="status", hexadecimal_kg=KG_HEX)).returncode == 0
        wrong = fence_ipmi(bmc_options(bmc, action="off", hexadecimal_kg="00112233445566778899"))
        assert "wrong BMC key" in one_line_failure(wrong)
        missing = fence_ipmi(bmc_options(bmc, action="off"))
        assert "set hexadecimal_kg" in one_line_failure(missing)
        assert bmc.state == {"chassis": True}


def test_a_closed_port_fails_at_once_and_a_silent_one_within_login_timeout():
    closed = fence_ipmi(
        {"ip": "127.0.0.1", "ipport": str(closed_udp_port()), "username": "u", "password": PASSWORD, "action": "status"}
    )
    assert "refused the connection" in one_line_failure(closed)
    assert closed.seconds < 5
    with silent_udp_port() as port:
        silent = fence_ipmi(
            {"ip": "127.0.0.1", "ipport": str(port), "username": "u", "password": PASSWORD, "action": "off", "login_timeout": "1"}
        )
        assert "did not answer within 1 s" in one_line_failure(silent)
        assert silent.seconds < 10


def test_a_user_without_operator_rights_is_refused_with_the_reason():
    with running_bmc(privilege="user") as bmc:
        too_high = fence_ipmi(bmc_options(bmc, action="status"))
        assert "may not log in at privilege level administrator" in one_line_failure(too_high)
        assert fence_ipmi(bmc_options(bmc, action="status", privlvl="user")).returncode == 0
        refused = fence_ipmi(bmc_options(bmc, action="off", privlvl="user"))
        assert "completion code 0xD4" in one_line_failure(refused)
        assert bmc.state == {"chassis": True}


def test_diag_sends_an_nmi_and_a_bmc_error_code_is_reported():
    with nmi_capable_bmc() as bmc:
        options = {"ip": "127.0.0.1", "ipport": str(bmc.port), "username": USERNAME, "password": PASSWORD}
        result = fence_ipmi({**options, "action": "diag"})
        assert (result.returncode, result.stdout.strip()) == (0, "Success: Diagnostic interrupt (NMI) sent")
        assert fence_ipmi({**options, "action": "status"}).returncode == 0  # an NMI leaves power on
        assert bmc.nmis() == 1
    with running_bmc() as bmc:  # the plain lab BMC does not implement NMI: 0xCC, as some real ones
        refused = fence_ipmi(bmc_options(bmc, action="diag"))
        assert "completion code 0xCC" in one_line_failure(refused)


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("cipher", "1", "cipher suite 1 is not available"),
        ("privlvl", "root", "privlvl must be one of"),
        ("hexadecimal_kg", "xyz", "hexadecimal_kg must be hexadecimal"),
        ("lanplus", "0", "lanplus=0 (IPMI 1.5) is not supported"),
    ],
)
def test_options_it_cannot_honour_are_refused_before_any_packet(option, value, reason):
    with silent_udp_port() as port:  # would hang the agent for login_timeout if it were contacted
        result = fence_ipmi({"ip": "127.0.0.1", "ipport": str(port), "action": "off", option: value})
        assert reason in one_line_failure(result)
        assert result.seconds < 3


def test_metadata_declares_diag_validates_and_matches_the_checked_in_copy():
    result = fence_ipmi({"action": "metadata"})
    assert result.returncode == 0
    document = etree.fromstring(result.stdout.encode())
    etree.RelaxNG(etree.parse(str(METADATA_RNG))).assertValid(document)
    actions = {element.get("name") for element in document.iter("action")}
    assert {"on", "off", "reboot", "status", "monitor", "diag"} <= actions
    assert (REPO / "metadata" / "fence_ipmi.xml").read_text() == result.stdout
    assert AGENT.stat().st_mode & 0o111


def why_no_cluster() -> str | None:
    import os
    import shutil

    if os.geteuid() != 0:
        return "namespace clusters need root"
    missing = [tool for tool in ("corosync", "pacemakerd", "pcs", "stonith_admin", "nsenter") if not shutil.which(tool)]
    return f"pacemaker stack not installed (missing {', '.join(missing)})" if missing else None


@pytest.fixture
def fenced_cluster(tmp_path):  # type: ignore[no-untyped-def]
    """Three namespace nodes with stonith on, each behind its own BMC (in the cluster's bridge netns)
    whose power-off kills the node and whose power-on boots it, and a fence_ipmi device per node."""
    reason = why_no_cluster()
    if reason:
        pytest.skip(reason)
    cluster = Cluster(tmp_path / "cluster", nodes=3, stonith_enabled=True)
    bmcs = []
    try:
        cluster.start()
        password_file = secret_file(tmp_path, "bmc-password", PASSWORD)
        for node in cluster.nodes:
            bmc = bmc_in_bridge(cluster, node, tmp_path)
            bmcs.append(bmc)
            stonith_create(cluster, node, bmc.port, password_file)
        for node in cluster.nodes:
            cluster.wait_for(
                lambda node=node: cluster.resource_nodes(f"ipmi-{node}"),
                timeout=60,
                what=f"ipmi-{node} started",
            )
        yield cluster
    finally:
        for bmc in bmcs:
            bmc.stop()
        cluster.stop(graceful=False)
        remove_state(cluster.state_dir)


@pytest.mark.cluster
def test_pacemaker_reboots_a_node_through_fence_ipmi_and_fences_a_hung_one(fenced_cluster):
    cluster = fenced_cluster
    reboot_and_hung_node_are_fenced(cluster, rebooted="node2", hung="node3")
