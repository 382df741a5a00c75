"""Real plug peers (lab/peers) for fence_smartplug's tests, and a way to run the agent as Pacemaker does.

Each family starts the peer that speaks its protocol on loopback, with credentials, and power hooks that
append "<outlet> <state>" to a file so a test sees the relay really moved. The agent runs as a process
(/usr/bin/python3 fence/fence_smartplug, options on stdin), never in-process.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lab.peers.credentials import write_credentials
from lab.peers.hooklog import HookLog
from lab.peers.outlets import PowerBoard

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "fence" / "fence_smartplug"
FAMILIES = ("tasmota", "shelly1", "shelly2", "kasa", "homeassistant", "cli")
# Characters that change when URL-encoded, so an encoded copy of the secret would be caught too.
SECRET = "Pw-7f3c 9e1a&d0ve/+"


@dataclass
class PlugUnderTest:
    """A running peer and the fence_smartplug options that reach it."""

    family: str
    options: dict[str, str]
    # Plug values the agent is given, and the peer's outlet name for each.
    plugs: dict[str, str]
    board: PowerBoard
    hooks: HookLog
    unknown_plug: str
    # Options that carry wrong credentials; None for a family without authentication (Kasa).
    wrong_credentials: dict[str, str] | None = None
    secret: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def is_on(self, plug: str) -> bool:
        return self.board.is_on(self.plugs[plug])


def run_agent(
    options: dict[str, str], timeout: float = 60.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """fence_smartplug as Pacemaker's fencer runs it: key=value lines on stdin, no arguments."""
    stdin = "".join(f"{key}={value}\n" for key, value in options.items())
    return subprocess.run(
        ["/usr/bin/python3", str(AGENT)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO / "lib"), "HA_LOGFACILITY": "none", **(env or {})},
        cwd="/",
    )


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kasa_available() -> bool:
    from lab.peers.kasa import simulator_installed

    return simulator_installed()


def skip_unless_available(family: str) -> None:
    if family == "kasa" and not kasa_available():
        pytest.skip("the Kasa simulator is not installed (python3 -m lab.peers.kasa --install)")
    if family == "cli" and (os.geteuid() != 0 or shutil.which("sshd", path="/usr/sbin") is None):
        pytest.skip("the mPower peer needs root and openssh-server")


@contextmanager
def plug_peer(family: str, workdir: Path) -> Iterator[PlugUnderTest]:
    """Start the real peer of a family with two (Kasa: three) outlets, all on, and yield how to reach it."""
    skip_unless_available(family)
    hooks = HookLog(workdir / f"{family}-hooks.log")
    if family in ("tasmota", "shelly1", "shelly2"):
        yield from _http_device(family, hooks)
    elif family == "homeassistant":
        yield from _home_assistant(workdir, hooks)
    elif family == "kasa":
        yield from _kasa(hooks)
    elif family == "cli":
        yield from _mpower(workdir, hooks)
    else:
        raise ValueError(family)


def _http_device(family: str, hooks: HookLog) -> Iterator[PlugUnderTest]:
    from lab.peers.shelly_gen1 import ShellyGen1Peer
    from lab.peers.shelly_gen2 import ShellyGen2Peer
    from lab.peers.tasmota import TasmotaPeer

    peer_class, names = {
        "tasmota": (TasmotaPeer, ["1", "2"]),
        "shelly1": (ShellyGen1Peer, ["0", "1"]),
        "shelly2": (ShellyGen2Peer, ["0", "1"]),
    }[family]
    peer = peer_class(PowerBoard([hooks.outlet(name) for name in names]), password=SECRET)
    peer.start()
    try:
        options = {"type": family, "ip": "127.0.0.1", "ipport": str(peer.port), "password": SECRET}
        if family != "shelly2":
            options["username"] = "admin"
        yield PlugUnderTest(
            family,
            options,
            {name: name for name in names},
            peer.board,
            hooks,
            unknown_plug="7",
            wrong_credentials={**options, "password": "not-the-password"},
            secret=SECRET,
        )
    finally:
        peer.stop()


def _home_assistant(workdir: Path, hooks: HookLog) -> Iterator[PlugUnderTest]:
    from lab.peers.homeassistant import HomeAssistantPeer
    from lab.peers.tlscert import make_self_signed

    tls = make_self_signed(workdir / "ha-tls")
    token_file = write_credentials(workdir / "ha-token", {})
    token_file.write_text(SECRET + "\n")
    names = ["switch.node1", "switch.node2"]
    peer = HomeAssistantPeer(PowerBoard([hooks.outlet(name) for name in names]), token=SECRET, tls_cert=tls.cert, tls_key=tls.key)
    peer.start()
    try:
        # The token comes from a password script, as an admin keeps it out of the CIB.
        options = {
            "type": "homeassistant",
            "ip": "127.0.0.1",
            "ipport": str(peer.port),
            "password_script": f"cat {token_file}",
            "ssl_ca_file": str(tls.ca_file),
        }
        wrong = {key: value for key, value in options.items() if key != "password_script"}
        yield PlugUnderTest(
            "homeassistant",
            options,
            {name: name for name in names},
            peer.board,
            hooks,
            unknown_plug="switch.node9",
            wrong_credentials={**wrong, "password": "not-the-token"},
            secret=SECRET,
            extra={"ca_file": tls.ca_file},
        )
    finally:
        peer.stop()


def _kasa(hooks: HookLog) -> Iterator[PlugUnderTest]:
    from lab.peers.kasa import KasaSimulator

    names = ["node1", "node2", "node3"]
    simulator = KasaSimulator(PowerBoard([hooks.outlet(name) for name in names]), model="hs300")
    simulator.start()
    try:
        options = {"type": "kasa", "ip": "127.0.0.1", "ipport": str(simulator.port)}
        # Outlets by alias (as pcmk_host_map would name them) and by number on the strip.
        yield PlugUnderTest("kasa", options, {"node1": "node1", "2": "node2"}, simulator.board, hooks, unknown_plug="node9")
    finally:
        simulator.stop()


def _mpower(workdir: Path, hooks: HookLog) -> Iterator[PlugUnderTest]:
    from lab.peers.mpower import MPowerPeer

    names = ["1", "2"]
    peer = MPowerPeer(PowerBoard([hooks.outlet(name) for name in names]), password=SECRET)
    peer.start()
    try:
        known_hosts = workdir / "known_hosts"
        options = {
            "type": "cli",
            "ip": "127.0.0.1",
            "ipport": str(peer.port),
            "username": "ubnt",
            "password": SECRET,
            "ssh_options": f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=accept-new",
        }
        yield PlugUnderTest(
            "cli",
            options,
            {name: name for name in names},
            peer.board,
            hooks,
            unknown_plug="9",
            wrong_credentials={**options, "password": "not-the-password"},
            secret=SECRET,
        )
    finally:
        peer.stop()


class _OddReplies(BaseHTTPRequestHandler):
    """Answers every request the way a misbehaving device might: /bad-json 200 with HTML, else 500."""

    def do_GET(self) -> None:
        self._reply()

    def do_POST(self) -> None:
        self._reply()

    def _reply(self) -> None:
        body = b"<html>not json</html>"
        self.send_response(200 if self.server.mode == "html" else 500)  # type: ignore[attr-defined]
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def odd_http_server(mode: str) -> Iterator[int]:
    """A real HTTP server on loopback whose replies no plug would give: mode "html" (200, not JSON) or "error" (500)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OddReplies)
    server.mode = mode  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- under real Pacemaker ---------------------------------------------------------------------------

CLUSTER_TOOLS = ("corosync", "pacemakerd", "pcs", "stonith_admin", "nsenter", "unshare")


def why_no_cluster() -> str | None:
    if os.geteuid() != 0:
        return "namespace clusters need root"
    missing = [tool for tool in CLUSTER_TOOLS if shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin") is None]
    return f"pacemaker stack not installed (missing {', '.join(missing)})" if missing else None


@dataclass
class BridgePlug:
    """A Shelly Gen2 peer in the cluster's bridge netns: switch N is node N+1's power."""

    process: subprocess.Popen[str]
    port: int
    host_map: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def shelly_in_bridge(cluster, workdir: Path) -> BridgePlug:  # type: ignore[no-untyped-def]
    """One three-switch Shelly Pro 3 style device powering the three nodes, with digest auth."""
    python = "/usr/bin/python3"
    credentials = write_credentials(workdir / "shelly.credentials", {"password": SECRET})
    argv = [python, "-m", "lab.peers.shelly_gen2", "--listen", cluster.bridge_address, "--port", "0",
            "--credentials-file", str(credentials)]  # fmt: skip
    host_map = []
    for switch, node in enumerate(cluster.nodes):
        power = f"{python} -m lab.nscluster power {{}} {node} --state-dir {cluster.state_dir}"
        argv += ["--outlet", f"{switch}=ON", "--off-hook", f"{switch}={power.format('off')}",
                 "--on-hook", f"{switch}={power.format('on')}"]  # fmt: skip
        host_map.append(f"{node}:{switch}")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO)}
    process = cluster.spawn_in_bridge(argv, stdout=subprocess.PIPE, text=True, env=env, cwd=str(REPO))
    assert process.stdout is not None
    word, _, port = process.stdout.readline().strip().partition(" ")
    if word != "READY":
        process.kill()
        process.wait()
        raise RuntimeError("the Shelly peer in the bridge did not start")
    return BridgePlug(process, int(port), ";".join(host_map))


def secret_file(workdir: Path, name: str, secret: str) -> Path:
    path = workdir / name
    path.touch(mode=0o600)
    path.write_text(secret + "\n")
    return path


@contextmanager
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel completes the handshake) but never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]
