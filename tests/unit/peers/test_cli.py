"""Each peer as a process: `python3 -m lab.peers.<name>` announces READY and stops on SIGTERM."""

import shlex
import signal
import subprocess
import sys
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[3]


def start(module, *args):
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    word, _, port = process.stdout.readline().partition(" ")
    assert word == "READY", process.stderr.read()
    return process, int(port)


def stop(process):
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


def test_tasmota_process_switches_runs_cli_hook_and_reads_password_from_file(tmp_path, credentials, hooks):
    secret = credentials(password="from-file")
    process, port = start(
        "lab.peers.tasmota",
        "--outlet",
        "2=ON",
        "--outlet",
        "1=OFF",
        "--off-hook",
        f"2={shlex.join(hooks.argv())}",
        "--credentials-file",
        str(secret),
    )
    try:
        url = f"http://127.0.0.1:{port}/cm"
        assert requests.get(url, params={"cmnd": "Power1"}, timeout=5).status_code == 401
        reply = requests.get(url, params={"user": "admin", "password": "from-file", "cmnd": "Power2 Off"}, timeout=5)
        assert reply.json() == {"POWER2": "OFF"}
        assert hooks.lines(1) == ["2 off"]
    finally:
        stop(process)


def test_every_http_peer_module_starts_and_stops(credentials):
    token = credentials(token="t", password="p")
    for module in ("lab.peers.shelly_gen1", "lab.peers.shelly_gen2", "lab.peers.homeassistant"):
        process, port = start(module, "--credentials-file", str(token))
        try:
            assert port > 0
        finally:
            stop(process)
