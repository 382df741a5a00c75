"""A real BMC on loopback and the three clients that drive it: fence_ipmi, ipmitool, fence_ipmilan.

The BMC is lab.peers.ipmi (pyghmi's BMC server, answering as real BMCs do); its PowerBoard is the
chassis power the tests observe. Secrets reach every client through stdin or the environment, never
argv: fence_ipmi and fence_ipmilan read options on stdin as Pacemaker sends them, ipmitool reads
IPMI_PASSWORD with -E.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lab.peers import ipmi as lab_ipmi
from lab.peers.outlets import Outlet, PowerBoard

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "fence" / "fence_ipmi"
PYTHON = "/usr/bin/python3"
USERNAME = "fencer"
PASSWORD = "Bmc-Pass-7f3a"
# The lab BMC takes its Kg as text; fence_ipmi as hexadecimal, like ipmitool -y.
KG_TEXT = "lab-bmc-key-2024"
KG_HEX = KG_TEXT.encode().hex()


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


# The lab BMC lacks the diagnostic interrupt (NMI) real server BMCs accept: this one adds it and
# prints "NMI" for each. It runs in a process of its own, as lab.peers.ipmi does, because pyghmi's
# session state is process-wide.
_NMI_BMC = """
import sys, threading
from pyghmi.ipmi.private import session
from lab.peers import ipmi
from lab.peers.outlets import Outlet, PowerBoard

class NmiBmc(ipmi._LabBmc):
    def pulse_diag(self):
        print("NMI", flush=True)
        return 0

bmc = NmiBmc(PowerBoard([Outlet("chassis")]), username=sys.argv[1], password=sys.stdin.readline().strip(),
             listen="127.0.0.1", port=0, kg=None, privilege="administrator")
stopping = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stopping.set()), daemon=True).start()
print("READY", bmc.port, flush=True)
while not stopping.is_set():
    session.Session.wait_for_rsp(timeout=0.2)
"""


@dataclass
class NmiBmc:
    port: int
    process: subprocess.Popen[str]

    def nmis(self) -> int:
        """NMIs received so far; ends the BMC (it exits when its stdin closes)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        return sum(1 for line in self.process.stdout if line.strip() == "NMI")


@contextmanager
def nmi_capable_bmc() -> Iterator[NmiBmc]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [PYTHON, "-c", _NMI_BMC, USERNAME], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(PASSWORD + "\n")
        process.stdin.flush()
        word, _, port = process.stdout.readline().partition(" ")
        assert word == "READY", "the NMI-capable BMC did not start"
        yield NmiBmc(int(port), process)
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=10)


@contextmanager
def running_bmc(*, privilege: str = "administrator", kg: bool = False, on: bool = True) -> Iterator[lab_ipmi.IpmiBmcPeer]:
    """A BMC on 127.0.0.1 and a free UDP port; its hooks record every real power change."""
    outlet = Outlet("chassis", on=on, on_hook=["/bin/true"], off_hook=["/bin/true"])
    peer = lab_ipmi.IpmiBmcPeer(
        PowerBoard([outlet]),
        username=USERNAME,
        password=PASSWORD,
        kg=KG_TEXT if kg else None,
        privilege=privilege,
    )
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()


def power_changes(peer: lab_ipmi.IpmiBmcPeer) -> list[str]:
    """The chassis power changes the BMC really made, in order ("off", "on")."""
    peer.board.wait_hooks(10)
    return [run.state for run in peer.board.hook_runs]


def stdin_for(options: Mapping[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in options.items())


def bmc_options(peer: lab_ipmi.IpmiBmcPeer, **extra: str) -> dict[str, str]:
    options = {"ip": "127.0.0.1", "ipport": str(peer.port), "username": USERNAME, "password": PASSWORD}
    options.update(extra)
    return options


def timed(argv: list[str], stdin: str, env: Mapping[str, str], timeout: float) -> Finished:
    """Run one process from / with its stdin given; its exit, output and wall-clock seconds."""
    started = time.monotonic()
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=dict(env), timeout=timeout, cwd="/")
    return Finished(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def fence_ipmi(options: Mapping[str, str], timeout: float = 60) -> Finished:
    """The agent as Pacemaker's fencer runs it: options on stdin, nothing in argv."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO / "lib")}
    return timed([PYTHON, str(AGENT)], stdin_for(options), env, timeout)


def fence_ipmilan(options: Mapping[str, str], timeout: float = 60) -> Finished:
    """fence-agents' fence_ipmilan, options on stdin (it then puts the password in ipmitool's argv)."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    return timed(["/usr/sbin/fence_ipmilan"], stdin_for({"lanplus": "1", **options}), env, timeout)


def ipmitool(peer: lab_ipmi.IpmiBmcPeer, *command: str, timeout: float = 30) -> Finished:
    """ipmitool lanplus with the password in IPMI_PASSWORD (-E), never -P."""
    argv = ["ipmitool", "-I", "lanplus", "-H", "127.0.0.1", "-p", str(peer.port), "-U", USERNAME, "-E", *command]
    env = {"PATH": "/usr/bin:/bin", "IPMI_PASSWORD": PASSWORD}
    return timed(argv, "", env, timeout)


@contextmanager
def silent_udp_port() -> Iterator[int]:
    """A bound UDP port that reads nothing and answers nothing: a BMC that hangs."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def closed_udp_port() -> int:
    """A UDP port nothing listens on (bound, noted, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def secret_file(directory: Path, name: str, secret: str) -> Path:
    """A file only its owner reads, for password_script=/bin/cat FILE."""
    path = directory / name
    path.touch(mode=0o600)
    os.chmod(path, 0o600)
    path.write_text(secret + "\n", encoding="utf-8")
    return path


@dataclass
class BridgeBmc:
    """A lab BMC process in a cluster's bridge netns, powering one node."""

    node: str
    port: int
    process: subprocess.Popen[str]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def bmc_in_bridge(cluster, node: str, workdir: Path) -> BridgeBmc:  # type: ignore[no-untyped-def]
    """Start `python3 -m lab.peers.ipmi` where every node reaches it; its chassis is `node`'s power."""
    from lab.peers.credentials import write_credentials

    credentials = write_credentials(
        workdir / f"bmc-{node}.credentials", {"username": USERNAME, "password": PASSWORD, "privilege": "operator"}
    )
    power = f"{PYTHON} -m lab.nscluster power {{}} {node} --state-dir {cluster.state_dir}"
    argv = [
        PYTHON, "-m", "lab.peers.ipmi", "--listen", cluster.bridge_address, "--port", "0",
        "--outlet", "chassis=ON", "--credentials-file", str(credentials),
        "--off-hook", f"chassis={power.format('off')}", "--on-hook", f"chassis={power.format('on')}",
    ]  # fmt: skip
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO)}
    process = cluster.spawn_in_bridge(argv, stdout=subprocess.PIPE, text=True, env=env, cwd=str(REPO))
    word, _, port = process.stdout.readline().strip().partition(" ")
    if word != "READY":
        process.kill()
        raise RuntimeError(f"the BMC of {node} did not start")
    return BridgeBmc(node, int(port), process)


def stonith_create(cluster, node: str, port: int, password_file: Path) -> None:  # type: ignore[no-untyped-def]
    """`pcs stonith create` a fence_ipmi device for `node`; the password stays in a file, out of the CIB."""
    argv = [
        "pcs", "stonith", "create", f"ipmi-{node}", "fence_ipmi",
        f"ip={cluster.bridge_address}", f"ipport={port}", f"username={USERNAME}", "privlvl=operator",
        f"password_script=/bin/cat {password_file}", f"pcmk_host_list={node}",
        "op", "monitor", "interval=30s",
        # pcs runs crm_resource with a scrubbed environment, so the tree's agent (which needs
        # PYTHONPATH=<repo>/lib in tree mode) cannot answer pcs's metadata query; the fencer has it.
        "--force",
    ]  # fmt: skip
    result = cluster.run("node1", argv, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"pcs stonith create ipmi-{node} failed: {result.stdout}{result.stderr}")
