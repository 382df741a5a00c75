"""The hand-written Kasa legacy framing agrees byte for byte with tplink-smarthome-crypto (npm), an
independent implementation used by the device simulator the fence tests run against."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from zfsha.plugs.kasa import decrypt, encrypt

KASA_PEER_DIR = Path(__file__).resolve().parents[3] / "lab" / "peers" / "kasa"
MESSAGES = [
    '{"system":{"get_sysinfo":{}}}',
    '{"context":{"child_ids":["8006ABCDEF0123456789ABCDEF0123456789ABCD01"]},"system":{"set_relay_state":{"state":0}}}',
    json.dumps({"system": {"set_dev_alias": {"alias": "Stüdio ☃ node"}}}),
]


def npm_encrypt_with_header(message: str) -> bytes:
    if shutil.which("node") is None or not (KASA_PEER_DIR / "node_modules" / "tplink-smarthome-crypto").is_dir():
        pytest.skip("node and lab/peers/kasa's npm packages are needed for the reference implementation")
    script = "process.stdout.write(require('tplink-smarthome-crypto').encryptWithHeader(process.argv[1]).toString('hex'))"
    done = subprocess.run(["node", "-e", script, message], cwd=KASA_PEER_DIR, capture_output=True, text=True, check=True)
    return bytes.fromhex(done.stdout)


@pytest.mark.parametrize("message", MESSAGES)
def test_encrypt_matches_the_npm_reference(message: str):
    assert encrypt(message) == npm_encrypt_with_header(message)


@pytest.mark.parametrize("message", MESSAGES)
def test_decrypt_inverts_encrypt(message: str):
    framed = encrypt(message)
    assert int.from_bytes(framed[:4], "big") == len(framed) - 4
    assert decrypt(framed[4:]) == message
