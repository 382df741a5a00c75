"""Decision logic of the fencing framework, driven through a device whose behaviour each test sets.

Real devices (BMC, smart plugs) are exercised by the fence agents' own tests; here the question is only
what the framework concludes from what a device says.
"""

import io
from pathlib import Path

import pytest
from lxml import etree

from zfsha import secrets
from zfsha.fence import FenceAgent, FenceError, FenceOption

METADATA_RNG = Path("/usr/share/cluster/relaxng/metadata.rng")


class Outlets:
    """Outlets that obey after `lag` status reads, or never when stuck."""

    def __init__(self, states: dict[str, bool], lag: int = 0, stuck: bool = False, unreadable: bool = False) -> None:
        self.states = dict(states)
        self.pending: dict[str, tuple[bool, int]] = {}
        self.lag = lag
        self.stuck = stuck
        self.unreadable = unreadable
        self.switches: list[tuple[str | None, bool]] = []
        self.closed = False

    def power_state(self, plug):
        if self.unreadable:
            raise FenceError("device answered with garbage")
        if plug not in self.states:
            raise FenceError(f"unknown outlet {plug}")
        if plug in self.pending:
            wanted, reads = self.pending[plug]
            if reads <= 0:
                self.states[plug] = wanted
                del self.pending[plug]
            else:
                self.pending[plug] = (wanted, reads - 1)
        return self.states[plug]

    def set_power(self, plug, on):
        self.switches.append((plug, on))
        if not self.stuck:
            self.pending[plug] = (on, self.lag)

    def list_outlets(self):
        return {plug: f"alias-{plug}" for plug in self.states}

    def close(self):
        self.closed = True


def make_agent(device: Outlets) -> FenceAgent:
    return FenceAgent(
        "fence_test",
        "Fence agent for tests",
        "Drives an in-memory device.",
        [FenceOption("flavour", "A flavour", "flavour", metavar="name")],
        lambda options: device,
        lists_outlets=True,
        defaults={"ipport": "1234", "stonith_status_sleep": "0.01", "power_timeout": "1"},
    )


def run(device: Outlets, stdin: str, capsys, environ=None) -> tuple[int, str, str]:
    status = make_agent(device).execute([], io.StringIO(stdin), {"HA_LOGFACILITY": "none", **(environ or {})})
    out, err = capsys.readouterr()
    return status, out, err


def test_off_succeeds_only_after_device_reports_off(capsys):
    device = Outlets({"1": True}, lag=3)
    status, out, _ = run(device, "action=off\nip=127.0.0.1\nplug=1\n", capsys)
    assert status == 0 and "Success: Powered OFF" in out
    assert device.states["1"] is False and device.closed


def test_off_fails_when_device_never_confirms(capsys):
    device = Outlets({"1": True}, stuck=True)
    status, _, err = run(device, "action=off\nip=127.0.0.1\nplug=1\npower_timeout=0.2\n", capsys)
    assert status == 1
    assert "timed out" in err and "still reports outlet 1 ON" in err


def test_unreadable_state_is_failure_never_success(capsys):
    device = Outlets({"1": True}, unreadable=True)
    assert run(device, "action=off\nip=x\nplug=1\n", capsys)[0] == 1
    assert run(device, "action=status\nip=x\nplug=1\n", capsys)[0] == 1


def test_status_exit_codes(capsys):
    assert run(Outlets({"1": True}), "action=status\nip=x\nplug=1", capsys)[:2] == (0, "Status: ON\n")
    assert run(Outlets({"1": False}), "action=status\nip=x\nplug=1", capsys)[:2] == (2, "Status: OFF\n")


def test_reboot_is_off_verified_then_on(capsys):
    device = Outlets({"1": True}, lag=1)
    status, out, _ = run(device, "action=reboot\nip=x\nport=1\n", capsys)
    assert status == 0 and "Rebooted" in out
    assert device.switches == [("1", False), ("1", True)]
    assert device.states["1"] is True


def test_reboot_of_an_off_node_only_powers_on(capsys):
    device = Outlets({"1": False})
    assert run(device, "action=reboot\nip=x\nport=1\n", capsys)[0] == 0
    assert device.switches == [("1", True)]


def test_multiple_plugs_all_switched_and_verified(capsys):
    device = Outlets({"1": True, "2": True})
    assert run(device, "action=off\nip=x\nplug=1,2\n", capsys)[0] == 0
    assert device.states == {"1": False, "2": False}
    device = Outlets({"1": False, "2": True})
    assert run(device, "action=status\nip=x\nplug=1,2\n", capsys)[0] == 0


def test_stdin_parsing_comments_last_wins_aliases_and_unknown_keys(capsys):
    device = Outlets({"1": True, "2": True})
    stdin = "# a comment\naction=status\nipaddr=x\nport=1\nplug=2\nno_such_option=5\nnodename=node1\naction=off\n"
    assert run(device, stdin, capsys)[0] == 0
    assert device.states == {"1": True, "2": False}


def test_command_line_long_options(capsys):
    device = Outlets({"7": True})
    status = make_agent(device).execute(["--ip", "x", "--plug", "7", "-o", "status"], None, {"HA_LOGFACILITY": "none"})
    assert status == 0


def test_missing_plug_and_ip_are_clear_failures(capsys):
    status, _, err = run(Outlets({"1": True}), "action=off\nip=x\n", capsys)
    assert status == 1 and "plug" in err
    status, _, err = run(Outlets({"1": True}), "action=off\nplug=1\n", capsys)
    assert status == 1 and "option ip" in err


def test_cycle_method_refused_when_driver_cannot_cycle(capsys):
    status, _, err = run(Outlets({"1": True}), "action=reboot\nip=x\nplug=1\nmethod=cycle\n", capsys)
    assert status == 1 and "cycle" in err


def test_list_and_list_status(capsys):
    device = Outlets({"1": True, "2": False})
    assert run(device, "action=list\nip=x\n", capsys)[:2] == (0, "1,alias-1\n2,alias-2\n")
    assert run(device, "action=list-status\nip=x\n", capsys)[1] == "1,alias-1,ON\n2,alias-2,OFF\n"


def test_password_never_reaches_output_or_debug_file(tmp_path, capsys):
    secrets.forget_all()
    debug = tmp_path / "debug.log"
    device = Outlets({"1": True}, unreadable=True)

    def leak(plug):
        raise FenceError("login failed for password hunter2-secret")

    device.power_state = leak
    status, out, err = run(
        device, f"action=status\nip=x\nplug=1\npassword=hunter2-secret\ndebug_file={debug}\nverbose=1\n", capsys
    )
    assert status == 1
    assert "hunter2-secret" not in out + err + debug.read_text()
    assert "******" in err


def test_password_script_is_run_without_a_shell(tmp_path, capsys):
    script = tmp_path / "pw.sh"
    script.write_text("#!/bin/sh\necho s3cret-from-script\n")
    script.chmod(0o700)
    seen = {}

    def connect(options):
        seen["password"] = options.text("password")
        return Outlets({"1": True})

    agent = FenceAgent("fence_test", "t", "t", [], connect)
    assert (
        agent.execute([], io.StringIO(f"action=status\nip=x\nplug=1\npassword_script={script}\n"), {"HA_LOGFACILITY": "none"})
        == 0
    )
    assert seen["password"] == "s3cret-from-script"


def test_pacemaker_fenced_disables_the_agent_power_timeout(capsys):
    assert FenceAgent._power_timeout(_opts(""), {"PCMK_service": "pacemaker-fenced"}) is None
    assert FenceAgent._power_timeout(_opts(""), {}) == 20
    assert FenceAgent._power_timeout(_opts("disable_timeout=false\n"), {"PCMK_service": "pacemaker-fenced"}) == 20


def _opts(stdin: str):
    from zfsha.fence.options import STANDARD_OPTIONS, FenceOptions, parse_stdin

    return FenceOptions(STANDARD_OPTIONS, parse_stdin(io.StringIO(stdin), STANDARD_OPTIONS))


def test_metadata_validates_against_fence_agents_schema(capsys):
    if not METADATA_RNG.exists():
        pytest.skip("fence-agents is not installed")
    document = etree.fromstring(make_agent(Outlets({})).metadata().encode())
    schema = etree.RelaxNG(etree.parse(str(METADATA_RNG)))
    assert schema.validate(document), schema.error_log
    names = {p.get("name"): p for p in document.iter("parameter")}
    assert names["ipport"].find("content").get("default") == "1234"
    assert names["port"].get("deprecated") == "1" and names["plug"].get("obsoletes") == "port"
    assert [a.get("name") for a in document.iter("action")][:6] == ["on", "off", "reboot", "status", "list", "list-status"]
