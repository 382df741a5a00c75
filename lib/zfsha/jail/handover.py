"""What the host hands to the jail and takes back: ZFS datasets (zfs-jail(8)) and the VNET interface
(ifconfig(8) vnet / -vnet).

Each step is an "ensure": repeating it when it is already done succeeds, so start and stop stay idempotent
and a jail.conf that already moves the interface itself (vnet.interface) does not conflict.
"""

from __future__ import annotations

from zfsha import run
from zfsha.errors import CommandFailed, GenericError, NotInstalledError
from zfsha.jail.jail import Jail


def dataset_jailed(dataset: str) -> str:
    """The dataset's `jailed` property (zfs-jail(8): it must be on for the jail to manage the dataset)."""
    try:
        return run.run(["zfs", "get", "-H", "-o", "value", "jailed", dataset]).stdout.strip()
    except CommandFailed as failed:
        raise GenericError(f"dataset {dataset}: {failed.stderr.strip() or failed.reason} (is the pool imported here?)") from None


def attach_dataset(jail: Jail, dataset: str) -> None:
    """zfs jail <jail> <dataset> (zfs-jail(8)); already attached to this jail counts as done."""
    done = run.run(["zfs", "jail", jail.name, dataset], check=False)
    if done.returncode == 0 or "exists" in done.stderr:
        return
    if "busy" in done.stderr:
        detail = done.stderr.strip()
        raise GenericError(f"zfs jail {jail.name} {dataset}: dataset busy (attached to another jail?): {detail}")
    raise GenericError(f"zfs jail {jail.name} {dataset} failed: {done.stderr.strip()}")


def detach_dataset(jail: Jail, dataset: str) -> None:
    """zfs unjail <jail> <dataset> (zfs-jail(8)); not attached to this jail counts as done."""
    done = run.run(["zfs", "unjail", jail.name, dataset], check=False)
    if done.returncode == 0 or "no such" in done.stderr or "does not exist" in done.stderr:
        return
    raise GenericError(f"zfs unjail {jail.name} {dataset} failed: {done.stderr.strip()}")


def interface_on_host(interface: str) -> bool:
    # ifconfig(8) on an interface the host's vnet does not hold fails with "does not exist".
    return run.run(["ifconfig", interface], check=False).returncode == 0


def interface_in_jail(jail: Jail, interface: str) -> bool:
    return jail.execute("ifconfig", interface).returncode == 0


def give_interface(jail: Jail, interface: str) -> None:
    """ifconfig <if> vnet <jail> (ifconfig(8) vnet): move the interface into the jail's network stack."""
    if interface_in_jail(jail, interface):
        return
    done = run.run(["ifconfig", interface, "vnet", jail.name], check=False)
    if done.returncode != 0:
        if "does not exist" in done.stderr:
            raise NotInstalledError(f"network interface {interface} does not exist on this host")
        raise GenericError(f"ifconfig {interface} vnet {jail.name} failed: {done.stderr.strip()}")


def take_interface(jail: Jail, interface: str) -> None:
    """ifconfig <if> -vnet <jail> (ifconfig(8) -vnet): reclaim the interface before the jail goes away."""
    if not interface_in_jail(jail, interface):
        return
    done = run.run(["ifconfig", interface, "-vnet", jail.name], check=False)
    if done.returncode != 0:
        raise GenericError(f"ifconfig {interface} -vnet {jail.name} failed: {done.stderr.strip()}")
