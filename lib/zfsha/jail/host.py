"""Host-side facts the NFS jail depends on: the platform, the nfsd module, mounts, and whether the
service address already answers on the network."""

from __future__ import annotations

import re
import sys

from zfsha import run
from zfsha.errors import CommandFailed, GenericError, NotInstalledError


def require_freebsd() -> None:
    """The agent drives jail(8); on any other system say so plainly instead of failing on a missing tool.

    A host that is not FreeBSD still runs the agent when jail(8) resolves, which is how the tests put the
    FreeBSD command simulator in front (ZFSHA_TOOL_PATH).
    """
    if sys.platform.startswith("freebsd") or run.which("jail") is not None:
        return
    raise NotInstalledError(f"fbsd-jail-nfs needs FreeBSD (jail(8), VNET, zfs-jail(8)); this host runs {sys.platform}")


def module_loaded(module: str) -> bool:
    """kldstat(8) -q -m: exit 0 when the module is loaded or compiled into the kernel."""
    return run.run(["kldstat", "-q", "-m", module], check=False).returncode == 0


def mountpoints() -> set[str]:
    """Every mounted file system's mount point (mount(8) -p prints them in fstab(5) form)."""
    done = run.run(["mount", "-p"])
    return {fields[1] for line in done.stdout.splitlines() if len(fields := line.split()) >= 2}


def address_answers(address: str, interface: str | None, count: int = 2) -> bool:
    """Whether `address` answers ARP on the wire (arping from ports net/arping).

    arping exits 0 when replies came and 1 when none did, but also 1 on errors (no such interface), so
    "free" is believed only when arping reports that it transmitted probes and got nothing back.
    """
    argv = ["arping", "-c", str(count)]
    if interface:
        argv += ["-i", interface]
    try:
        done = run.run([*argv, address], check=False, timeout=count + 5.0)
    except CommandFailed as failed:
        raise GenericError(f"arping {address} could not run: {failed.reason}") from None
    if done.returncode == 0:
        return True
    statistics = re.search(r"(\d+) packets transmitted, (\d+) packets received", done.stdout)
    if statistics and int(statistics.group(1)) > 0 and int(statistics.group(2)) == 0:
        return False
    raise GenericError(f"arping {address} could not probe the network: {(done.stderr or done.stdout).strip()}")
