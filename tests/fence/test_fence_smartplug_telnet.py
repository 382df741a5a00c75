"""fence_smartplug type=cli over TELNET, against a real BusyBox telnetd + login (lab.peers.mpower.telnet).

The agent runs as Pacemaker's fencer runs it (/usr/bin/python3 fence/fence_smartplug, options on stdin,
cli_transport=telnet), through the real telnet client. Success is judged by the peer's relay state and
the power hooks it ran, not by what the agent prints.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from lab.peers.hooklog import HookLog
from lab.peers.mpower.telnet import MPowerTelnetPeer, busybox_has_telnetd
from lab.peers.outlets import PowerBoard
from tests.fence.smartplug_fixtures import SECRET, free_port, run_agent, silent_port
from tests.fence.test_fence_smartplug import processes_holding

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0
    or not busybox_has_telnetd()
    or shutil.which("telnet", path="/usr/bin:/bin") is None
    or shutil.which("unshare") is None,
    reason="needs root, busybox-static (telnetd, login), the telnet client and unshare",
)


class TelnetPlug:
    """A running telnet mPower with outlets 1 and 2 (on) and the options that reach it."""

    def __init__(self, peer: MPowerTelnetPeer, hooks: HookLog, password: str) -> None:
        self.peer = peer
        self.hooks = hooks
        self.options = {
            "type": "cli",
            "cli_transport": "telnet",
            "ip": "127.0.0.1",
            "ipport": str(peer.port),
            "username": "ubnt",
            "password": password,
        }

    def act(self, action: str, port: str | None = None, **extra: str):
        # Pacemaker passes the outlet as port= (pcmk_host_map's value), plus nodename=.
        options = {**self.options, "action": action, **extra}
        if port is not None:
            options.update(port=port, nodename="node-under-test")
        return run_agent(options)

    def is_on(self, outlet: str) -> bool:
        return self.peer.board.is_on(outlet)


@contextmanager
def telnet_plug(tmp_path: Path, password: str = SECRET) -> Iterator[TelnetPlug]:
    hooks = HookLog(tmp_path / "hooks.log")
    with MPowerTelnetPeer(PowerBoard([hooks.outlet("1"), hooks.outlet("2")]), password=password) as peer:
        yield TelnetPlug(peer, hooks, password)


@pytest.fixture
def plug(tmp_path: Path) -> Iterator[TelnetPlug]:
    with telnet_plug(tmp_path) as running:
        yield running


def assert_failed_with_one_line(result, *words: str) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]
    return lines[0]


def test_off_status_on_reboot_list_and_monitor_drive_the_real_relay(plug: TelnetPlug):
    assert plug.act("status", "1").returncode == 0

    result = plug.act("off", "1")
    assert result.returncode == 0, result.stderr
    assert not plug.is_on("1") and plug.is_on("2")
    assert plug.hooks.lines(1) == ["1 off"]

    status = plug.act("status", "1")
    assert status.returncode == 2 and "OFF" in status.stdout

    result = plug.act("on", "1")
    assert result.returncode == 0, result.stderr
    assert plug.is_on("1")

    result = plug.act("reboot", "2")
    assert result.returncode == 0, result.stderr
    assert plug.is_on("2")
    assert plug.hooks.lines(4) == ["1 off", "1 on", "2 off", "2 on"]

    listing = plug.act("list")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.splitlines() == ["1,relay1", "2,relay2"]

    list_status = plug.act("list-status")
    assert list_status.returncode == 0 and list_status.stdout.splitlines() == ["1,relay1,ON", "2,relay2,ON"]

    assert plug.act("monitor").returncode == 0


def test_status_follows_a_relay_switched_behind_the_agents_back(plug: TelnetPlug):
    plug.peer.board.set("2", False)
    assert plug.act("status", "2").returncode == 2
    plug.peer.board.set("2", True)
    assert plug.act("status", "2").returncode == 0


@pytest.mark.parametrize("username, password", [("ubnt", "not-the-password"), ("admin", SECRET)])
def test_wrong_credentials_fail_with_a_one_line_reason(plug: TelnetPlug, username: str, password: str):
    result = run_agent({**plug.options, "username": username, "password": password, "action": "off", "port": "1"})
    assert_failed_with_one_line(result, "credentials", plug.options["ipport"])
    assert plug.is_on("1")


def test_monitor_with_a_wrong_password_fails(plug: TelnetPlug):
    result = run_agent({**plug.options, "password": "not-the-password", "action": "monitor"})
    assert_failed_with_one_line(result, "credentials")


def test_unknown_outlet_fails_with_a_one_line_reason(plug: TelnetPlug):
    result = plug.act("off", "9")
    assert_failed_with_one_line(result, "9")
    assert plug.is_on("1") and plug.is_on("2")


def test_a_plug_that_carries_shell_syntax_is_refused(plug: TelnetPlug):
    result = plug.act("off", "1; echo 0 > /proc/power/relay2")
    assert_failed_with_one_line(result, "plug must be")
    assert plug.is_on("1") and plug.is_on("2")


def test_a_closed_port_fails_at_once_as_refused():
    # A login_timeout longer than the run's own timeout: only recognising the refusal ends the run in time.
    options = {"type": "cli", "cli_transport": "telnet", "ip": "127.0.0.1", "ipport": str(free_port()),
               "username": "ubnt", "password": "x", "action": "off", "port": "1", "login_timeout": "120"}  # fmt: skip
    assert_failed_with_one_line(run_agent(options, timeout=30), "refused", options["ipport"])


def test_a_device_that_accepts_but_never_answers_is_named_as_such():
    with silent_port() as port:
        options = {"type": "cli", "cli_transport": "telnet", "ip": "127.0.0.1", "ipport": str(port),
                   "username": "ubnt", "password": "x", "action": "status", "port": "1", "login_timeout": "2"}  # fmt: skip
        assert_failed_with_one_line(run_agent(options, timeout=30), "no answer")


def run_agent_watching_processes(options: dict[str, str], secret: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """run_agent, while scanning every process's argv and environment on the host for the secret."""
    found: set[str] = set()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(run_agent, options)
        while not running.done():
            found |= processes_holding(secret.encode())
            time.sleep(0.01)
        return running.result(), found


def test_the_password_never_reaches_argv_stdout_stderr_or_the_debug_file(plug: TelnetPlug, tmp_path: Path):
    debug = tmp_path / "debug.log"
    outputs, leaks = [], set()
    for action, password in [("off", SECRET), ("on", SECRET), ("status", SECRET + "-wrong")]:
        options = {**plug.options, "password": password, "action": action, "port": "1", "verbose": "1", "debug_file": str(debug)}
        result, found = run_agent_watching_processes(options, SECRET)
        outputs += [result.stdout, result.stderr]
        leaks |= found
    assert plug.hooks.lines(2) == ["1 off", "1 on"]
    assert not leaks, f"secret in argv/environment of {leaks}"
    recorded = debug.read_text()
    assert recorded.strip()
    for text in [*outputs, recorded]:
        assert SECRET not in text


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("pässwörd-ü", id="utf-8"),
        # Ctrl-] is the telnet client's escape to its own `telnet> ` command prompt.
        pytest.param("ctl\x1d]esc", id="telnet-escape-character"),
    ],
)
def test_any_password_is_typed_through_to_the_device(tmp_path: Path, password: str):
    with telnet_plug(tmp_path, password=password) as plug:
        result = plug.act("off", "1")
        assert result.returncode == 0, result.stderr
        assert not plug.is_on("1")
