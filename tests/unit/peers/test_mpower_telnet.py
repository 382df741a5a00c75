"""The mPower telnet peer against the real telnet client (inetutils) and a raw socket."""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from lab.peers.mpower.telnet import MPowerTelnetPeer, busybox_has_telnetd
from lab.peers.outlets import Outlet, PowerBoard

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not busybox_has_telnetd() or shutil.which("telnet") is None or shutil.which("unshare") is None,
    reason="needs root, busybox-static (telnetd, login), the telnet client and unshare",
)

PROMPT = "MF.v2.1.11# "
REPO = Path(__file__).resolve().parents[3]
IAC, WILL, DO, ECHO = 255, 251, 253, 1


@pytest.fixture
def mpower(hooks):
    with MPowerTelnetPeer(PowerBoard([hooks.outlet("1"), Outlet("2", on=False)]), password="ubnt pw") as peer:
        yield peer


def login(peer, password="ubnt pw", username="ubnt"):
    session = pexpect.spawn("telnet", ["127.0.0.1", str(peer.port)], timeout=10, encoding="utf-8")
    session.expect("UBNT login: ")
    session.sendline(username)
    session.expect("Password: ")
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
    assert "relay2" in run(session, "ls /proc/power")
    session.sendline("exit")
    session.expect("Connection closed by foreign host")
    assert mpower.state == {"1": False, "2": False}
    assert hooks.lines(1) == ["1 off"]


def test_the_password_is_not_echoed_and_the_shell_is_not_a_shell(mpower):
    session = login(mpower)
    session.expect_exact(PROMPT)
    assert "ubnt pw" not in session.before
    assert run(session, "id") == "-sh: id: not found"
    assert "No such file" in run(session, "cat /etc/shadow")
    assert "No such file" in run(session, "echo 1 > /proc/power/relay9")
    session.close(force=True)
    assert mpower.state == {"1": True, "2": False}


@pytest.mark.parametrize("username, password", [("ubnt", "guess"), ("root", "ubnt pw"), ("admin", "ubnt pw")])
def test_wrong_credentials_get_login_incorrect_and_a_new_login_prompt(mpower, username, password):
    session = login(mpower, password=password, username=username)
    assert session.expect_exact(["Login incorrect", PROMPT]) == 0
    session.expect("UBNT login: ")
    session.close(force=True)
    assert mpower.state == {"1": True, "2": False}


def test_telnetd_opens_with_real_option_negotiation(mpower):
    with socket.create_connection(("127.0.0.1", mpower.port), timeout=5) as conn:
        opening = b""
        while len(opening) < 6:
            opening += conn.recv(64)
    assert bytes([IAC, WILL, ECHO]) in opening
    assert opening[0] == IAC and opening[1] in (WILL, DO)


def test_stop_ends_open_sessions_and_leaves_the_host_as_it_was(hooks):
    watched = [Path(name) for name in ("/etc/passwd", "/etc/shadow", "/var/log/wtmp", "/var/log/lastlog") if Path(name).exists()]
    before = {path: path.stat().st_mtime_ns for path in watched}
    peer = MPowerTelnetPeer(PowerBoard([hooks.outlet("1")]), password="ubnt pw")
    peer.start()
    telnetd, workdir = peer._telnetd, peer._workdir
    assert telnetd is not None and workdir is not None
    session = login(peer)
    session.expect_exact(PROMPT)
    peer.stop()
    session.expect(pexpect.EOF, timeout=5)
    assert telnetd.poll() is not None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", peer.port), timeout=1).close()
    # No login or device shell of the peer outlives it (they ran in its pid namespace).
    leftovers = subprocess.run(["pgrep", "-f", str(workdir)], capture_output=True, text=True).stdout
    assert leftovers.strip() == ""
    assert {path: path.stat().st_mtime_ns for path in watched} == before


def test_command_line_reads_the_password_from_the_credentials_file(credentials):
    secrets = credentials(password="file pw", username="admin")
    peer = subprocess.Popen(
        [sys.executable, "-m", "lab.peers.mpower.telnet", "--ports", "2", "--credentials-file", str(secrets)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert peer.stdout is not None
        word, _, port = peer.stdout.readline().strip().partition(" ")
        assert word == "READY"
        session = pexpect.spawn("telnet", ["127.0.0.1", port], timeout=10, encoding="utf-8")
        session.expect("login: ")
        session.sendline("admin")
        session.expect("Password: ")
        session.sendline("file pw")
        session.expect_exact(PROMPT)
        session.sendline("cat /proc/power/relay2")
        session.expect_exact(PROMPT)
        assert session.before.split()[-1] == "1"
        session.close(force=True)
    finally:
        peer.terminate()
        assert peer.wait(timeout=10) == 0
