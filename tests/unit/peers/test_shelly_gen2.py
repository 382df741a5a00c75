import hashlib
import json

import pytest
import requests
from requests.auth import HTTPDigestAuth

from lab.peers.outlets import Outlet, PowerBoard
from lab.peers.shelly_gen2 import ShellyGen2Peer


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def shelly(hooks):
    with ShellyGen2Peer(PowerBoard([hooks.outlet("0"), Outlet("1", on=False)]), password="s3cret") as peer:
        yield peer


def rpc(peer, method, params=None, auth=None, frame_auth=None):
    frame = {"id": 7, "src": "fence", "method": method, "params": params or {}}
    if frame_auth is not None:
        frame["auth"] = frame_auth
    return requests.post(f"{peer.base_url}/rpc", json=frame, auth=auth, timeout=5)


def test_switch_set_with_sha256_digest_switches_and_runs_hook(shelly, hooks):
    reply = rpc(shelly, "Switch.Set", {"id": 0, "on": False}, auth=HTTPDigestAuth("admin", "s3cret"))
    assert reply.status_code == 200
    assert reply.json() == {"id": 7, "src": shelly.device_id, "dst": "fence", "result": {"was_on": True}}
    assert shelly.state["0"] is False
    assert hooks.lines(1) == ["0 off"]
    status = rpc(shelly, "Switch.GetStatus", {"id": 0}, auth=HTTPDigestAuth("admin", "s3cret")).json()["result"]
    assert status["id"] == 0 and status["output"] is False


def test_get_form_of_rpc_takes_json_query_values(shelly):
    auth = HTTPDigestAuth("admin", "s3cret")
    reply = requests.get(f"{shelly.base_url}/rpc/Switch.Set?id=1&on=true", auth=auth, timeout=5)
    assert reply.json() == {"was_on": False}
    assert shelly.state["1"] is True
    missing = requests.get(f"{shelly.base_url}/rpc/Switch.GetStatus?id=4", auth=auth, timeout=5)
    assert missing.status_code == 500
    assert missing.json() == {"code": -105, "message": "Argument 'id', value 4 not found!"}


def test_unauthenticated_request_gets_the_digest_challenge(shelly):
    reply = rpc(shelly, "Switch.Set", {"id": 0, "on": False})
    assert reply.status_code == 401
    challenge = reply.headers["WWW-Authenticate"]
    assert challenge.startswith("Digest ")
    for part in ('qop="auth"', f'realm="{shelly.device_id}"', "algorithm=SHA-256"):
        assert part in challenge
    body = json.loads(reply.json()["error"]["message"])
    assert body["auth_type"] == "digest" and body["realm"] == shelly.device_id
    assert shelly.state["0"] is True


def test_wrong_password_is_refused_with_401(shelly):
    reply = rpc(shelly, "Switch.Set", {"id": 0, "on": False}, auth=HTTPDigestAuth("admin", "wrong"))
    assert reply.status_code == 401
    get = requests.get(f"{shelly.base_url}/rpc/Switch.GetStatus?id=0", auth=HTTPDigestAuth("admin", "wrong"), timeout=5)
    assert get.status_code == 401
    assert shelly.state["0"] is True


def test_device_info_needs_no_auth_and_reports_auth_enabled(shelly):
    info = rpc(shelly, "Shelly.GetDeviceInfo").json()["result"]
    assert info["auth_en"] is True and info["auth_domain"] == shelly.device_id and info["gen"] == 2
    assert requests.get(f"{shelly.base_url}/shelly", timeout=5).json()["id"] == shelly.device_id


def test_auth_object_in_the_frame_is_accepted_and_checked(shelly):
    challenge = json.loads(rpc(shelly, "Switch.Toggle", {"id": 1}).json()["error"]["message"])
    ha1 = sha256(f"admin:{shelly.device_id}:s3cret")
    ha2 = sha256("dummy_method:dummy_uri")
    cnonce = 1234567
    auth = {
        "realm": shelly.device_id,
        "username": "admin",
        "nonce": challenge["nonce"],
        "cnonce": cnonce,
        "response": sha256(f"{ha1}:{challenge['nonce']}:1:{cnonce}:auth:{ha2}"),
        "algorithm": "SHA-256",
    }
    assert rpc(shelly, "Switch.Toggle", {"id": 1}, frame_auth=auth).json()["result"] == {"was_on": False}
    assert shelly.state["1"] is True
    forged = {**auth, "response": sha256("guess")}
    assert rpc(shelly, "Switch.Toggle", {"id": 1}, frame_auth=forged).status_code == 401
    assert shelly.state["1"] is True


def test_rpc_errors_follow_the_device(shelly):
    auth = HTTPDigestAuth("admin", "s3cret")
    assert rpc(shelly, "Switch.Set", {"id": 0}, auth=auth).json()["error"]["code"] == -103
    assert rpc(shelly, "Cover.Open", {"id": 0}, auth=auth).json()["error"] == {
        "code": 404,
        "message": "No handler for Cover.Open",
    }


def test_device_without_password_needs_no_auth():
    with ShellyGen2Peer(PowerBoard([Outlet("0")])) as peer:
        assert rpc(peer, "Shelly.GetDeviceInfo").json()["result"]["auth_en"] is False
        assert rpc(peer, "Switch.Set", {"id": 0, "on": False}).json()["result"] == {"was_on": True}
