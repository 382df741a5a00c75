import os
import shutil

import pexpect
import pytest

from lab.peers.mpower import MPowerPeer
from lab.peers.outlets import Outlet, PowerBoard

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/usr/sbin/sshd") or shutil.which("unshare") is None,
    reason="needs root, openssh-server and unshare (sshd runs in a private mount namespace)",
)

PROMPT = "MF.v2.1.11# "


@pytest.fixture
def mpower(hooks):
    with MPowerPeer(PowerBoard([hooks.outlet("1"), Outlet("2", on=False)]), password="ubnt-pw") as peer:
        yield peer


def ssh(peer, *command):
    argv = [
        "-p",
        str(peer.port),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "PreferredAuthentications=password",
        "-o",
        "LogLevel=ERROR",
        "ubnt@127.0.0.1",
        *command,
    ]
    return pexpect.spawn("ssh", argv, timeout=10, encoding="utf-8")


def login(peer, password="ubnt-pw"):
    session = ssh(peer)
    session.expect("password:")
    session.sendline(password)
    return session


def run(session, line):
    session.sendline(line)
    session.expect_exact(PROMPT)
    return session.before.replace("\r\n", "\n").split("\n", 1)[1].strip()


def test_echo_to_relay_switches_and_cat_reads_back(mpower, hooks):
    session = login(mpower)
    session.expect_exact(PROMPT)
    assert run(session, "cat /proc/power/relay1") == "1"
    run(session, "echo 0 > /proc/power/relay1")
    assert run(session, "cat /proc/power/relay1") == "0"
    assert run(session, "cat /proc/power/relay2") == "0"
    session.sendline("exit")
    session.expect(pexpect.EOF)
    assert mpower.state == {"1": False, "2": False}
    assert hooks.lines(1) == ["1 off"]


def test_the_shell_is_not_a_shell(mpower):
    session = login(mpower)
    session.expect_exact(PROMPT)
    assert run(session, "id") == "-sh: id: not found"
    assert "No such file" in run(session, "cat /etc/shadow")
    assert "No such file" in run(session, "echo 1 > /proc/power/relay9")
    session.sendline("exit")
    session.expect(pexpect.EOF)


def test_command_on_the_ssh_line_runs_without_prompt(mpower):
    session = ssh(mpower, "echo 1 > /proc/power/relay2; cat /proc/power/relay2")
    session.expect("password:")
    session.sendline("ubnt-pw")
    session.expect(pexpect.EOF)
    assert session.before.strip().splitlines()[-1].strip() == "1"
    assert mpower.state["2"] is True


def test_wrong_password_is_denied(mpower):
    session = login(mpower, password="guess")
    assert session.expect_exact(["Permission denied", PROMPT]) == 0
    session.close(force=True)
    assert mpower.state == {"1": True, "2": False}
