import pytest
import requests

from lab.peers.outlets import Outlet, PowerBoard
from lab.peers.tasmota import TasmotaPeer


@pytest.fixture
def one_relay(hooks):
    with TasmotaPeer(PowerBoard([hooks.outlet("1")])) as peer:
        yield peer


def cm(peer, command, **auth):
    return requests.get(f"{peer.base_url}/cm", params={**auth, "cmnd": command}, timeout=5)


def test_power_off_switches_the_relay_and_runs_its_hook(one_relay, hooks):
    reply = cm(one_relay, "Power1 Off")
    assert reply.status_code == 200
    assert reply.json() == {"POWER": "OFF"}
    assert one_relay.state == {"1": False}
    assert hooks.lines(1) == ["1 off"]


def test_power_without_payload_queries_and_toggle_flips(one_relay):
    assert cm(one_relay, "Power").json() == {"POWER": "ON"}
    assert cm(one_relay, "POWER toggle").json() == {"POWER": "OFF"}
    assert cm(one_relay, "power 1").json() == {"POWER": "ON"}


def test_multi_relay_device_numbers_its_relays(hooks):
    board = PowerBoard([Outlet("1"), Outlet("2", on=False)])
    with TasmotaPeer(board) as peer:
        assert cm(peer, "Power2").json() == {"POWER2": "OFF"}
        assert cm(peer, "Power1 0").json() == {"POWER1": "OFF"}
        assert cm(peer, "Power0 On").json() == {"POWER1": "ON", "POWER2": "ON"}


def test_missing_relay_and_unknown_command_answer_command_unknown(one_relay):
    assert cm(one_relay, "Power3 Off").json() == {"Command": "Unknown"}
    assert cm(one_relay, "Reboot 1").json() == {"Command": "Unknown"}
    assert one_relay.state == {"1": True}


def test_web_password_is_required_in_the_query(hooks):
    with TasmotaPeer(PowerBoard([hooks.outlet("1")]), password="joker") as peer:
        for auth in ({}, {"user": "admin", "password": "wrong"}, {"user": "root", "password": "joker"}):
            reply = cm(peer, "Power Off", **auth)
            assert reply.status_code == 401
            assert reply.json() == {"WARNING": "Need user=<username>&password=<password>"}
        assert peer.state == {"1": True}
        assert cm(peer, "Power Off", user="admin", password="joker").json() == {"POWER": "OFF"}
