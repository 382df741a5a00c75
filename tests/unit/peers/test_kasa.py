import json
import shutil
import socket
import struct

import pytest

from lab.peers.kasa import KasaSimulator, install_simulator, simulator_installed
from lab.peers.outlets import Outlet, PowerBoard

from .conftest import wait_until

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="node and npm are needed for tplink-smarthome-simulator"
)


@pytest.fixture(scope="module", autouse=True)
def simulator_package():
    if not simulator_installed():
        install_simulator()


def encrypt(text: str) -> bytes:
    """Kasa's legacy framing: 4-byte big-endian length, then autokey XOR starting at 171."""
    key, out = 171, bytearray()
    for byte in text.encode():
        key ^= byte
        out.append(key)
    return struct.pack(">I", len(out)) + bytes(out)


def decrypt(data: bytes) -> str:
    key, out = 171, bytearray()
    for byte in data:
        out.append(key ^ byte)
        key = byte
    return out.decode()


def kasa_call(port: int, request: dict) -> dict:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(encrypt(json.dumps(request)))
        reply = b""
        while len(reply) < 4 or len(reply) < 4 + struct.unpack(">I", reply[:4])[0]:
            chunk = conn.recv(4096)
            if not chunk:
                break
            reply += chunk
    return json.loads(decrypt(reply[4:]))


def test_plug_relay_off_over_the_xor_protocol_runs_hook(hooks):
    with KasaSimulator(PowerBoard([hooks.outlet("node1")]), model="hs110") as plug:
        sysinfo = kasa_call(plug.port, {"system": {"get_sysinfo": {}}})["system"]["get_sysinfo"]
        assert (sysinfo["alias"], sysinfo["relay_state"]) == ("node1", 1)
        reply = kasa_call(plug.port, {"system": {"set_relay_state": {"state": 0}}})
        assert reply == {"system": {"set_relay_state": {"err_code": 0}}}
        assert wait_until(lambda: plug.state == {"node1": False})
        assert hooks.lines(1) == ["node1 off"]
        assert kasa_call(plug.port, {"system": {"get_sysinfo": {}}})["system"]["get_sysinfo"]["relay_state"] == 0


def test_strip_switches_only_the_addressed_child(hooks):
    board = PowerBoard([hooks.outlet("node1"), hooks.outlet("node2", on=False)])
    with KasaSimulator(board, model="hs300") as strip:
        children = kasa_call(strip.port, {"system": {"get_sysinfo": {}}})["system"]["get_sysinfo"]["children"]
        assert [(c["id"], c["alias"], c["state"]) for c in children[:2]] == [
            (strip.child_id("node1"), "node1", 1),
            (strip.child_id("node2"), "node2", 0),
        ]
        kasa_call(strip.port, {"context": {"child_ids": [strip.child_id("node2")]}, "system": {"set_relay_state": {"state": 1}}})
        assert wait_until(lambda: strip.state == {"node1": True, "node2": True})
        assert hooks.lines(1) == ["node2 on"]


def test_strip_refuses_an_unknown_child(hooks):
    with KasaSimulator(PowerBoard([Outlet("node1")]), model="hs300") as strip:
        reply = kasa_call(strip.port, {"context": {"child_ids": ["NOPE00"]}, "system": {"set_relay_state": {"state": 0}}})
        assert reply["system"]["set_relay_state"]["err_code"] != 0
        assert strip.state == {"node1": True}
