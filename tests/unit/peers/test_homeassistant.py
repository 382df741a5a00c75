import pytest
import requests

from lab.peers.homeassistant import HomeAssistantPeer
from lab.peers.outlets import Outlet, PowerBoard
from lab.peers.tlscert import make_self_signed

TOKEN = "lab-long-lived-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def hass(hooks):
    with HomeAssistantPeer(PowerBoard([hooks.outlet("switch.node1"), Outlet("switch.node2")]), token=TOKEN) as peer:
        yield peer


def test_turn_off_service_switches_entity_and_runs_hook(hass, hooks):
    reply = requests.post(
        f"{hass.base_url}/api/services/switch/turn_off", json={"entity_id": "switch.node1"}, headers=BEARER, timeout=5
    )
    assert reply.status_code == 200
    assert [(s["entity_id"], s["state"]) for s in reply.json()] == [("switch.node1", "off")]
    state = requests.get(f"{hass.base_url}/api/states/switch.node1", headers=BEARER, timeout=5).json()
    assert state["state"] == "off"
    assert {"entity_id", "attributes", "last_changed", "last_updated", "context"} <= set(state)
    assert hooks.lines(1) == ["switch.node1 off"]


def test_bad_or_missing_token_is_401(hass):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}):
        reply = requests.post(
            f"{hass.base_url}/api/services/switch/turn_off", json={"entity_id": "switch.node1"}, headers=headers, timeout=5
        )
        assert reply.status_code == 401
        assert reply.text == "401: Unauthorized"
    assert hass.state["switch.node1"] is True


def test_unknown_entity_is_404_on_read_and_ignored_by_services(hass):
    reply = requests.get(f"{hass.base_url}/api/states/switch.ghost", headers=BEARER, timeout=5)
    assert reply.status_code == 404
    assert reply.json() == {"message": "Entity not found."}
    ignored = requests.post(
        f"{hass.base_url}/api/services/switch/turn_off", json={"entity_id": "switch.ghost"}, headers=BEARER, timeout=5
    )
    assert ignored.status_code == 200 and ignored.json() == []
    unknown = requests.post(
        f"{hass.base_url}/api/services/switch/explode", json={"entity_id": "switch.node1"}, headers=BEARER, timeout=5
    )
    assert unknown.status_code == 400
    assert hass.state == {"switch.node1": True, "switch.node2": True}


def test_https_with_self_signed_cert_verifies_against_its_ca_file(tmp_path):
    tls = make_self_signed(tmp_path / "tls")
    board = PowerBoard([Outlet("switch.node3")])
    with HomeAssistantPeer(board, token=TOKEN, tls_cert=tls.cert, tls_key=tls.key) as peer:
        assert peer.base_url.startswith("https://")
        assert requests.get(f"{peer.base_url}/api/", headers=BEARER, verify=str(tls.ca_file), timeout=5).json() == {
            "message": "API running."
        }
        requests.post(
            f"{peer.base_url}/api/services/homeassistant/turn_off",
            json={"entity_id": ["switch.node3"]},
            headers=BEARER,
            verify=str(tls.ca_file),
            timeout=5,
        )
        assert peer.state == {"switch.node3": False}
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{peer.base_url}/api/", headers=BEARER, timeout=5)
