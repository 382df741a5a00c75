import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from lab.peers.ipmi import IpmiBmcPeer
from lab.peers.outlets import PowerBoard

needs_ipmitool = pytest.mark.skipif(shutil.which("ipmitool") is None, reason="ipmitool is not installed")
needs_fence_ipmilan = pytest.mark.skipif(shutil.which("fence_ipmilan") is None, reason="fence-agents is not installed")


@pytest.fixture
def bmc(hooks):
    with IpmiBmcPeer(PowerBoard([hooks.outlet("node1")]), username="admin", password="s3cret") as peer:
        yield peer


def ipmitool(peer, *command, user="admin", password="s3cret", extra=(), env=None):
    # -E takes the password from IPMI_PASSWORD: never on the command line.
    argv = [
        "ipmitool",
        "-I",
        "lanplus",
        "-H",
        "127.0.0.1",
        "-p",
        str(peer.port),
        "-U",
        user,
        "-E",
        "-R",
        "1",
        "-N",
        "1",
        *extra,
        *command,
    ]
    return subprocess.run(
        argv, env={**os.environ, "IPMI_PASSWORD": password, **(env or {})}, capture_output=True, text=True, timeout=30
    )


@needs_ipmitool
def test_ipmitool_power_status_off_on_round_trip(bmc, hooks):
    assert ipmitool(bmc, "chassis", "power", "status").stdout.strip() == "Chassis Power is on"
    assert ipmitool(bmc, "chassis", "power", "off").returncode == 0
    assert bmc.state == {"node1": False}
    assert ipmitool(bmc, "chassis", "power", "status").stdout.strip() == "Chassis Power is off"
    assert ipmitool(bmc, "chassis", "power", "on").returncode == 0
    assert hooks.lines(2) == ["node1 off", "node1 on"]


@needs_ipmitool
def test_power_cycle_runs_off_then_on_and_is_refused_while_off(bmc, hooks):
    assert ipmitool(bmc, "chassis", "power", "cycle").returncode == 0
    assert hooks.lines(2) == ["node1 off", "node1 on"]
    ipmitool(bmc, "chassis", "power", "off")
    refused = ipmitool(bmc, "chassis", "power", "cycle")
    assert refused.returncode != 0
    assert bmc.state == {"node1": False}


@needs_ipmitool
def test_wrong_password_and_unknown_user_cannot_log_in(bmc):
    for user, password in (("admin", "wrong"), ("intruder", "s3cret")):
        result = ipmitool(bmc, "chassis", "power", "off", user=user, password=password)
        assert result.returncode != 0
        assert "Unable to establish IPMI v2 / RMCP+ session" in result.stderr
    assert bmc.state == {"node1": True}


@needs_ipmitool
def test_user_privilege_may_read_but_not_switch(hooks):
    board = PowerBoard([hooks.outlet("node1")])
    with IpmiBmcPeer(board, username="viewer", password="pw", privilege="user") as peer:
        assert ipmitool(peer, "chassis", "power", "status", user="viewer", password="pw", extra=["-L", "USER"]).returncode == 0
        denied = ipmitool(peer, "chassis", "power", "off", user="viewer", password="pw", extra=["-L", "USER"])
        assert "Insufficient privilege" in denied.stderr
        assert ipmitool(peer, "chassis", "power", "status", user="viewer", password="pw").returncode != 0
        assert peer.state == {"node1": True}


@needs_ipmitool
def test_kg_bmc_key_must_match(hooks):
    with IpmiBmcPeer(PowerBoard([hooks.outlet("n")]), username="admin", password="s3cret", kg="labkey") as peer:
        # -K reads the key from IPMI_KGKEY, keeping it out of argv.
        good = ipmitool(peer, "chassis", "power", "status", extra=["-K"], env={"IPMI_KGKEY": "labkey"})
        assert good.stdout.strip() == "Chassis Power is on"
        bad = ipmitool(peer, "chassis", "power", "status", extra=["-K"], env={"IPMI_KGKEY": "other"})
        assert bad.returncode != 0


def test_pyghmi_client_logs_in_and_switches(bmc, hooks):
    # pyghmi keeps process-wide session state, so its client runs in a process of its own.
    script = textwrap.dedent("""
        import os, sys
        from pyghmi.ipmi import command
        ipmi = command.Command(bmc="127.0.0.1", userid="admin", password=os.environ["BMC_PASSWORD"],
                               port=int(sys.argv[1]))
        print(ipmi.get_power()["powerstate"])
        print(ipmi.set_power("off", wait=True)["powerstate"])
        print(ipmi.get_power()["powerstate"])
    """)
    result = subprocess.run(
        [sys.executable, "-c", script, str(bmc.port)],
        capture_output=True,
        text=True,
        env={**os.environ, "BMC_PASSWORD": "s3cret"},
        timeout=60,
    )
    assert result.stdout.split() == ["on", "off", "off"], result.stderr
    assert hooks.lines(1) == ["node1 off"]


def test_pyghmi_client_reports_a_wrong_password(bmc):
    script = (
        "import os, sys\nfrom pyghmi.ipmi import command\nfrom pyghmi import exceptions\n"
        "try:\n    command.Command(bmc='127.0.0.1', userid='admin', password='bad', port=int(sys.argv[1]))\n"
        "except exceptions.IpmiException as error:\n    print('refused', error)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(bmc.port)], capture_output=True, text=True, timeout=60)
    assert result.stdout.startswith("refused"), result.stdout + result.stderr


@needs_fence_ipmilan
def test_fence_ipmilan_status_off_on(bmc, hooks, tmp_path):
    def fence(action):
        # fence agents read their options from stdin, which keeps the password out of argv.
        options = f"ip=127.0.0.1\nipport={bmc.port}\nusername=admin\npassword=s3cret\nlanplus=1\naction={action}\n"
        return subprocess.run(["fence_ipmilan"], input=options, capture_output=True, text=True, timeout=60)

    assert "Status: ON" in fence("status").stdout
    assert fence("off").returncode == 0
    assert bmc.state == {"node1": False}
    assert fence("status").returncode == 2  # fence-agents: 2 means off
    assert fence("on").returncode == 0
    assert hooks.lines(2) == ["node1 off", "node1 on"]
