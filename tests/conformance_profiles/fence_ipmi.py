"""fence_ipmi's conformance profile: one lab BMC (lab.peers.ipmi, pyghmi's BMC server) per machine.

A BMC controls exactly one chassis and IPMI has no outlets, so fence_ipmi ignores plug (as
fence_ipmilan does): one device fences one node. `device(setup)` therefore serves a setup with one
outlet; for several, `devices(setup)` yields one option set per outlet, and ONE_MACHINE_PER_DEVICE
tells the suite to create one stonith device per node (pcmk_host_list=<node>) instead of one device
with a pcmk_host_map. The password reaches the agent through password_script, never the CIB.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tests.conformance_profiles import PeerSetup, PowerHooks, running_peer

ONE_MACHINE_PER_DEVICE = True
PYTHON = "/usr/bin/python3"
USERNAME = "fencer"
PASSWORD = "Conformance-Bmc-5e1"


@contextmanager
def device(setup: PeerSetup) -> Iterator[dict[str, str]]:
    if len(setup.outlets) != 1:
        raise ValueError(
            f"a BMC powers one machine, the suite asked for {len(setup.outlets)} outlets: use devices(setup), "
            "one stonith device per node (ONE_MACHINE_PER_DEVICE)"
        )
    with devices(setup) as options:
        yield next(iter(options.values()))


@contextmanager
def devices(setup: PeerSetup) -> Iterator[dict[str, dict[str, str]]]:
    """One BMC per outlet, each on its own UDP port at setup.address: outlet name -> agent options."""
    password_file = _private_file(setup.workdir / "fence_ipmi.password", PASSWORD + "\n")
    with ExitStack() as stack:
        options = {}
        for name, hooks in setup.outlets.items():
            port = stack.enter_context(_bmc(setup, name, hooks))
            options[name] = {
                "ip": setup.address,
                "ipport": str(port),
                "username": USERNAME,
                "password_script": f"/bin/cat {password_file}",
                "privlvl": "operator",
            }
        yield options


@contextmanager
def _bmc(setup: PeerSetup, name: str, hooks: PowerHooks) -> Iterator[int]:
    credentials = _private_file(
        setup.workdir / f"bmc-{name}.credentials", f"username={USERNAME}\npassword={PASSWORD}\nprivilege=operator\n"
    )
    argv = [
        PYTHON, "-m", "lab.peers.ipmi", "--listen", setup.address, "--port", "0",
        "--outlet", f"{name}=ON", "--credentials-file", str(credentials),
        "--off-hook", f"{name}={shlex.join(hooks.off)}", "--on-hook", f"{name}={shlex.join(hooks.on)}",
    ]  # fmt: skip
    with running_peer(setup, f"bmc-{name}", argv) as port:
        yield port


def _private_file(path: Path, text: str) -> Path:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text, encoding="utf-8")
    return path
