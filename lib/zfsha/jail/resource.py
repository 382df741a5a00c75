"""ocf:zfsha:fbsd-jail-nfs: the declaration and the handlers of the NFS-in-a-VNET-jail agent (FreeBSD).

agents/fbsd-jail-nfs runs it. It lives here, not in the agent file, because Python caches a module's
bytecode but compiles a script anew on every run, and Pacemaker runs the monitor every few seconds.
"""

from __future__ import annotations

import ipaddress
import re
import time

from zfsha.errors import ConfigError, GenericError, NotInstalledError, ZfshaError
from zfsha.jail import Jail, handover, host, nfs, problems
from zfsha.ocf import Action, Agent, Context, OcfStatus, Param

NFS_VERSIONS = ("3", "4")
# How long stop waits for jail processes to be gone after jail -r (jail(8) stop.timeout defaults to 10 s).
PROCESS_GRACE_SECONDS = 15.0

agent = Agent(
    name="fbsd-jail-nfs",
    shortdesc="NFS server in a FreeBSD VNET jail on the shared pool",
    longdesc=(
        "Creates a persistent VNET jail from its jail.conf, hands it the ZFS datasets (zfs jail) and the "
        "network interface (ifconfig vnet), boots its /etc/rc so nfsd and mountd start, and checks that the "
        "exports are served at the service address. Start refuses when the service address already answers "
        "ARP (another node may still serve it). The jail.conf must set persist and must not set exec.start: "
        "the agent runs /etc/rc after the handover. It never imports or exports the pool; order it after "
        "ocf:zfsha:zfs-iscsi-pool. Runs on FreeBSD only."
    ),
    params=[
        Param("jail", "Jail name", "The jail's name in the jail.conf (no dots).", required=True, unique_group="jail"),
        Param("config", "jail.conf path", "The jail.conf(5) defining the jail; may live on the pool.", default="/etc/jail.conf"),
        Param(
            "datasets",
            "Datasets handed to the jail",
            "ZFS file systems (jailed=on) given with zfs jail, space-separated.",
            default="",
        ),
        Param(
            "interface",
            "VNET interface",
            "Host network interface moved into the jail (ifconfig vnet).",
            required=True,
            unique_group="interface",
        ),
        Param(
            "service_ip",
            "Service IPv4 address",
            "The address clients mount from; the jail's rc.conf configures it.",
            required=True,
            unique_group="service_ip",
        ),
        Param("nfs_versions", "NFS versions to check", "Space-separated NFS versions (3, 4) that must answer.", default="3 4"),
        Param(
            "arping_interface",
            "Interface for the ARP guard",
            "Host interface arping probes from; empty: arping picks.",
            default="",
        ),
    ],
    actions=[
        Action("start", timeout=90),
        Action("stop", timeout=120),
        Action("monitor", timeout=30, interval=20, depth=0),
        Action("monitor", timeout=60, interval=60, depth=10),
        Action("validate-all", timeout=30),
        Action("meta-data", timeout=5),
    ],
)


def datasets(ctx: Context) -> tuple[str, ...]:
    return tuple(str(ctx.params.datasets).split())


def versions(ctx: Context) -> tuple[str, ...]:
    return tuple(str(ctx.params.nfs_versions).split())


def the_jail(ctx: Context) -> Jail:
    return Jail(str(ctx.params.jail), str(ctx.params.config))


@agent.validate
def validate(ctx: Context) -> None:
    name = str(ctx.params.jail)
    if not name or "." in name or name.isdigit():
        raise ConfigError(f"jail name {name!r} is invalid: jail(8) names contain no '.' and are not numbers")
    try:
        ipaddress.IPv4Address(str(ctx.params.service_ip))
    except ValueError:
        raise ConfigError(f"service_ip {ctx.params.service_ip!r} is not an IPv4 address (arping probes IPv4 only)") from None
    if not str(ctx.params.config).startswith("/"):
        raise ConfigError(f"config {ctx.params.config!r} must be an absolute path")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.]{0,14}", str(ctx.params.interface)):
        raise ConfigError(f"interface {ctx.params.interface!r} is not a network interface name")
    wanted = versions(ctx)
    if not wanted or any(v not in NFS_VERSIONS for v in wanted):
        raise ConfigError(f"nfs_versions {ctx.params.nfs_versions!r} must list versions among {', '.join(NFS_VERSIONS)}")
    for dataset in datasets(ctx):
        if not re.fullmatch(r"[A-Za-z0-9][\w.:-]*(/[\w.:-]+)+", dataset):
            raise ConfigError(f"dataset {dataset!r} is not a ZFS file system below a pool (pool/name)")
    if ctx.depth >= 10:
        host.require_freebsd()
        check_prerequisites(ctx, the_jail(ctx))


def check_prerequisites(ctx: Context, jail: Jail) -> str:
    """Everything the jail needs from this host and its jail.conf; returns the jail root."""
    config = jail.configuration()
    found = problems(config, str(ctx.params.interface), datasets(ctx))
    if found:
        raise ConfigError(f"jail {jail.name} in {jail.conf}: {'; '.join(found)}")
    # jail(8) allow.nfsd: without the NFSD kernel option, nfsd.ko must be loaded outside the jail.
    if not host.module_loaded("nfsd"):
        raise NotInstalledError("the nfsd kernel module is not loaded on this host (add nfsd to kld_list in the host's rc.conf)")
    if not handover.interface_on_host(str(ctx.params.interface)):
        raise NotInstalledError(f"network interface {ctx.params.interface} does not exist on this host")
    # jail(8) allow.nfsd: the jail's root must be a file system mount point for mountd to export from it.
    if config.path.rstrip("/") not in host.mountpoints():
        raise GenericError(f"jail root {config.path} is not a mount point (is the pool imported and its dataset mounted?)")
    for dataset in datasets(ctx):
        if handover.dataset_jailed(dataset) != "on":
            raise ConfigError(f"dataset {dataset} has jailed=off; set jailed=on so only the jail mounts it")
    return config.path


def serving_problems(ctx: Context, jail: Jail, jid: int, deep: bool) -> list[str]:
    found = [f"{daemon} is not running in jail {jail.name}" for daemon in ("nfsd", "mountd") if not Jail.processes(jid, daemon)]
    if deep and not found:
        found = nfs.nfs_problems(jail, str(ctx.params.service_ip), versions(ctx))
    return found


@agent.action("start")
def start(ctx: Context) -> None:
    host.require_freebsd()
    jail = the_jail(ctx)
    state = jail.state()
    if state is not None and state.dying:
        raise GenericError(f"jail {jail.name} (jid {state.jid}) is still dying from its last removal; wait or check jls -d")
    if state is not None:
        found = serving_problems(ctx, jail, state.jid, deep=True)
        if found:
            raise GenericError(f"jail {jail.name} already runs but is not serving ({found[0]}); stop it first")
        ctx.log.info("jail %s already runs and serves NFS", jail.name)
        return
    if host.address_answers(str(ctx.params.service_ip), str(ctx.params.arping_interface) or None):
        raise GenericError(f"service address {ctx.params.service_ip} already answers ARP: another node may still serve it")
    check_prerequisites(ctx, jail)
    jail.create()
    try:
        created = jail.state()
        if created is None:
            raise GenericError(f"jail {jail.name} vanished right after jail -c (is persist set?)")
        for dataset in datasets(ctx):
            handover.attach_dataset(jail, dataset)
        handover.give_interface(jail, str(ctx.params.interface))
        jail.boot()
        wait_until_serving(ctx, jail, created.jid)
    except ZfshaError:
        try:
            stop(ctx)
        except ZfshaError as cleanup:
            ctx.log.error("cleanup after failed start also failed: %s", cleanup.reason)
        raise
    ctx.log.info("jail %s (jid %d) serves NFS at %s", jail.name, created.jid, ctx.params.service_ip)


def wait_until_serving(ctx: Context, jail: Jail, jid: int) -> None:
    """nfsd registers a moment after rc returns: ask until it answers or the start's time runs out."""
    while True:
        found = serving_problems(ctx, jail, jid, deep=True)
        if not found:
            return
        left = ctx.deadline.remaining()
        if left is not None and left < 3:
            raise GenericError(f"jail {jail.name} started but does not serve NFS: {'; '.join(found)}")
        time.sleep(1)


@agent.action("stop")
def stop(ctx: Context) -> None:
    try:
        host.require_freebsd()
    except NotInstalledError:
        return  # no jail can run on a host without jail(8)
    jail = the_jail(ctx)
    state = jail.state()
    if state is None:
        return
    if not state.dying:
        left = ctx.deadline.remaining()
        jail.shutdown(timeout=None if left is None else max(5.0, left / 3))
        handover.take_interface(jail, str(ctx.params.interface))
        for dataset in reversed(datasets(ctx)):
            handover.detach_dataset(jail, dataset)
        jail.remove()
    remaining = Jail.wait_until_empty(state.jid, PROCESS_GRACE_SECONDS)
    if remaining:
        raise GenericError(f"jail {jail.name} (jid {state.jid}) still has processes after jail -r: pids {' '.join(remaining)}")
    if not handover.interface_on_host(str(ctx.params.interface)):
        ctx.log.warning("interface %s did not come back to the host after jail %s was removed", ctx.params.interface, jail.name)


@agent.action("monitor")
def monitor(ctx: Context) -> OcfStatus:
    try:
        host.require_freebsd()
    except NotInstalledError:
        return OcfStatus.NOT_RUNNING
    jail = the_jail(ctx)
    state = jail.state()
    if state is None or state.dying:
        return OcfStatus.NOT_RUNNING
    found = serving_problems(ctx, jail, state.jid, deep=ctx.depth >= 10)
    if found:
        raise GenericError("; ".join(found))
    return OcfStatus.SUCCESS
