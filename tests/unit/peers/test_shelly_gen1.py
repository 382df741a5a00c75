import pytest
import requests

from lab.peers.outlets import Outlet, PowerBoard
from lab.peers.shelly_gen1 import ShellyGen1Peer


@pytest.fixture
def shelly(hooks):
    with ShellyGen1Peer(PowerBoard([hooks.outlet("0"), Outlet("1", on=False)]), password="pw") as peer:
        yield peer


def test_device_info_is_open_and_says_auth_is_on(shelly):
    info = requests.get(f"{shelly.base_url}/shelly", timeout=5).json()
    assert info["auth"] is True
    assert info["num_outputs"] == 2
    assert info["type"] == "SHSW-1"


def test_relay_turn_off_with_basic_auth_switches_and_runs_hook(shelly, hooks):
    reply = requests.get(f"{shelly.base_url}/relay/0", params={"turn": "off"}, auth=("admin", "pw"), timeout=5)
    assert reply.status_code == 200
    assert reply.json()["ison"] is False
    assert shelly.state == {"0": False, "1": False}
    assert hooks.lines(1) == ["0 off"]
    status = requests.get(f"{shelly.base_url}/relay/1", auth=("admin", "pw"), timeout=5).json()
    assert status["ison"] is False and status["has_timer"] is False


def test_without_or_with_wrong_credentials_answers_401(shelly):
    for auth in (None, ("admin", "nope")):
        reply = requests.get(f"{shelly.base_url}/relay/0", params={"turn": "off"}, auth=auth, timeout=5)
        assert reply.status_code == 401
        assert reply.headers["WWW-Authenticate"].startswith("Basic ")
    assert shelly.state["0"] is True


def test_missing_relay_is_404_and_bad_turn_is_400(shelly):
    assert requests.get(f"{shelly.base_url}/relay/7", auth=("admin", "pw"), timeout=5).status_code == 404
    bad = requests.get(f"{shelly.base_url}/relay/0", params={"turn": "sideways"}, auth=("admin", "pw"), timeout=5)
    assert bad.status_code == 400
    assert shelly.state["0"] is True


def test_toggle_and_status_list_the_relays(shelly):
    requests.get(f"{shelly.base_url}/relay/1", params={"turn": "toggle"}, auth=("admin", "pw"), timeout=5)
    relays = requests.get(f"{shelly.base_url}/status", auth=("admin", "pw"), timeout=5).json()["relays"]
    assert [relay["ison"] for relay in relays] == [True, True]
