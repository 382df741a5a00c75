"""Asking the NFS service in the jail itself, over RPC, at the service address.

The questions are asked from inside the jail (jexec(8)): its VNET stack holds the service address, so the
answer proves nfsd/mountd listen there without depending on the host having a route to the service LAN.
"""

from __future__ import annotations

from zfsha.jail.jail import Jail

NFS_PORT = "2049"


def nfs_problems(jail: Jail, address: str, versions: tuple[str, ...]) -> list[str]:
    """What the NFS service fails to answer: a NULL call per version (rpcinfo(8) -t), exports (showmount(8) -e)."""
    found = []
    for version in versions:
        # rpcinfo(8) -n: NFSv4 needs no rpcbind registration, so ask port 2049 directly for it.
        direct = ["-n", NFS_PORT] if version == "4" else []
        argv = ["rpcinfo", *direct, "-t", address, "nfs", version]
        done = jail.execute(*argv, timeout=15)
        if done.returncode != 0:
            found.append(f"NFSv{version} does not answer at {address} ({(done.stderr or done.stdout).strip()})")
    if "3" in versions:
        exports = exported(jail, address)
        if exports is None:
            found.append(f"mountd does not answer showmount -e {address}")
        elif not exports:
            found.append(f"{address} exports nothing (check /etc/exports in the jail and the handed-over datasets)")
    return found


def exported(jail: Jail, address: str) -> list[str] | None:
    """The exported directories (showmount(8) -e), or None when mountd does not answer."""
    done = jail.execute("showmount", "-e", address, timeout=15)
    if done.returncode != 0:
        return None
    # First line is "Exports list on <host>:", then one "<directory> <hosts>" per export.
    return [line.split()[0] for line in done.stdout.splitlines()[1:] if line.strip()]
