"""zfsha.ipmi's decisions that need no BMC: option parsing, the reachability probe against real UDP
sockets, and the bound on calls into pyghmi. Logging in to a real BMC is tests/fence/test_fence_ipmi.py."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from zfsha.errors import ConfigError
from zfsha.fence import FenceError
from zfsha.ipmi import BmcLogin, _bounded, _completion_code, parse_kg, privilege_level, probe


def test_kg_is_read_as_hexadecimal_like_ipmitool_y():
    assert parse_kg("0x6c61622d") == b"lab-"
    assert parse_kg(" 00ff ") == b"\x00\xff"
    with pytest.raises(ConfigError, match="hexadecimal digits"):
        parse_kg("not-hex")
    with pytest.raises(ConfigError, match="1 to 20 bytes"):
        parse_kg("00" * 21)


def test_privilege_levels_are_fence_ipmilans_names():
    assert [privilege_level(name) for name in ("callback", "user", "operator", "administrator")] == [1, 2, 3, 4]
    with pytest.raises(ConfigError, match="privlvl must be one of"):
        privilege_level("admin")


def test_probe_reports_a_closed_port_at_once():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(FenceError, match="refused the connection"):
        probe(BmcLogin("127.0.0.1", port, login_timeout=5))
    assert time.monotonic() - started < 2


def test_probe_gives_up_on_a_silent_port_after_login_timeout():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        with pytest.raises(FenceError, match=r"did not answer within 0\.5 s"):
            probe(BmcLogin("127.0.0.1", sock.getsockname()[1], login_timeout=0.5))


def test_probe_passes_once_anything_answers_the_channel_auth_request():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))

        def answer() -> None:
            request, sender = sock.recvfrom(512)
            assert request[:4] == bytes.fromhex("0600ff07")  # RMCP, IPMI class
            sock.sendto(b"\x06\x00\xff\x07reply", sender)

        responder = threading.Thread(target=answer)
        responder.start()
        probe(BmcLogin("127.0.0.1", sock.getsockname()[1], login_timeout=2))
        responder.join(2)


def test_a_bounded_call_that_overruns_becomes_a_fence_error():
    release = threading.Event()
    with pytest.raises(FenceError, match=r"reading state: no answer within 0\.2 s"):
        _bounded(release.wait, 0.2, "reading state")
    release.set()
    assert _bounded(lambda: 42, 1, "answer") == 42
    with pytest.raises(ZeroDivisionError):
        _bounded(lambda: 1 / 0, 1, "dividing")


def test_completion_codes_are_named_and_privilege_gets_advice():
    assert _completion_code(0x02, 0xD5) == "completion code 0xD5, Command not supported in present state"
    assert "check privlvl" in _completion_code(0x02, 0xD4)
