"""ocf:zfsha:lio-sync-luns: the declaration and the handlers of the agent exporting zvols as LIO LUNs.

agents/lio-sync-luns runs it. It lives here, not in the agent file, because Python caches a module's
bytecode but compiles a script anew on every run, and Pacemaker runs the monitor every few seconds.
"""

from __future__ import annotations

import os
import time

from zfsha import zvol
from zfsha.lio import config as lio_config
from zfsha.lio import desired, identity, plan, steady
from zfsha.lio.rtslib_backend import LioTarget, configfs_root, node_lock
from zfsha.ocf import Action, Agent, ConfigError, Context, GenericError, OcfStatus, Outcome, Param
from zfsha.steady import forget, remember

agent = Agent(
    name="lio-sync-luns",
    shortdesc="Exports the zvols of datasets as iSCSI LUNs of one LIO target portal group",
    longdesc=(
        "Keeps one target portal group (TPG) of an LIO iSCSI target in step with the zvols below the given "
        "datasets, through rtslib-fb (no targetcli processes). One resource per TPG: for per-VLAN TPGs create "
        "one resource per VLAN, each with its VLAN's VIP as portal. Each zvol keeps its LUN number and SCSI unit "
        "serial wherever it is exported: they are stored on the zvol as the ZFS user properties zfsha:lun and "
        "zfsha:serial the first time it is exported. Backstores are named as the Proxmox ZFS-over-iSCSI LIO "
        "plugin names them (dataset with '-' for '/', '-', zvol name), so set that plugin's pool to the dataset "
        "and its lio_tpg to tpg<N>. start waits for the zvol device nodes, creates what is missing, fixes what "
        "differs, removes only this resource's objects, and enables the TPG last. monitor maps new zvols and "
        "unmaps vanished ones. stop removes the TPG and the backstores no other TPG uses, so the pool can be "
        "exported; on a SUSPENDED pool it fails at once (releasing a zvol would hang), so that the node is "
        "fenced. Order it after the pool and the VIP; a portal on an address that is not up yet needs "
        "net.ipv4.ip_nonlocal_bind=1 (net.ipv6.ip_nonlocal_bind for IPv6). CHAP secrets are read from files "
        "that only root can read: lines userid=, password=, and for mutual CHAP mutual_userid=, "
        "mutual_password=."
    ),
    params=[
        Param("target_iqn", "iSCSI name of the target (iqn.YYYY-MM.reversed.domain:name)", required=True, unique_group="tpg"),
        Param(
            "tpg",
            "Tag of the target portal group this resource owns (Proxmox lio_tpg tpgN)",
            type="integer",
            default=1,
            minimum=1,
            unique_group="tpg",
        ),
        Param(
            "portals",
            "Portal addresses of the TPG: address[:port] separated by spaces ([v6]:port for IPv6)",
            longdesc="Usually the client VIP, e.g. '192.0.2.10:3260'. Port 3260 when omitted.",
            required=True,
        ),
        Param("datasets", "Datasets whose zvols (recursively) are exported, separated by spaces", required=True),
        Param(
            "acl_mode",
            "Who may log in: 'acls' (only the listed initiators) or 'generate' (any initiator, as "
            "the Proxmox plugin needs; protect it with chap_file)",
            type="select",
            choices=lio_config.ACL_MODES,
            default="acls",
        ),
        Param(
            "initiators",
            "ACL mode: initiator IQNs separated by spaces, each optionally =/path/to/chap-file",
            longdesc="Example: 'iqn.1998-01.com.vmware:esx1=/etc/zfsha/chap/esx1 iqn.1993-08.org.debian:01:pve1'. "
            "Every initiator has CHAP (its own file or chap_file) or none has. Changing it with reload-agent "
            "only touches the initiators that changed.",
            reloadable=True,
        ),
        Param(
            "chap_file",
            "CHAP credentials file: the TPG's in generate mode, the default for listed initiators "
            "in ACL mode (mode 0600 or stricter)",
            reloadable=True,
        ),
        Param(
            "unmap",
            "Advertise thin provisioning (UNMAP and WRITE SAME with UNMAP) so freed blocks return to the pool",
            type="boolean",
            default=True,
        ),
        Param(
            "save_config",
            "Save the live LIO configuration to saveconfig_file after each change (the Proxmox plugin reads LUNs from it)",
            type="boolean",
            default=False,
            reloadable=True,
        ),
        Param("saveconfig_file", "Where save_config writes", default="/etc/rtslib-fb-target/saveconfig.json", reloadable=True),
        Param(
            "device_timeout",
            "Seconds start waits for zvol device nodes to appear after the pool import",
            type="integer",
            default=30,
            minimum=0,
        ),
    ],
    actions=[
        Action("start", timeout=90),
        Action("stop", timeout=60),
        Action("monitor", timeout=60, interval=30, depth=0),
        Action("reload-agent", timeout=60),
        Action("validate-all", timeout=30),
        Action("meta-data", timeout=5),
    ],
)


@agent.validate
def validate(ctx: Context) -> None:
    config = lio_config.parse(ctx.params)
    if ctx.depth > 0 or ctx.action == "validate-all":
        lio_config.load_credentials(config)
    if ctx.depth > 0:
        missing = zvol.datasets_missing(config.datasets)
        if missing:
            raise ConfigError(f"datasets do not exist (is the pool imported?): {', '.join(missing)}")


def reconcile(ctx: Context, *, scope: str | None, wait: bool) -> Outcome | None:
    """Discover zvols, settle their identities, plan, apply. scope=None applies every step.

    Found nothing to do and nothing wrong: what it saw beforehand answers the next steady monitors."""
    made = time.time()
    try:
        seen: str | None = steady.observed(ctx.environ, configfs_root())
    except OSError:  # no TPG yet
        seen = None
    config = lio_config.parse(ctx.params)
    credentials = lio_config.load_credentials(config)
    own = config.ownership
    target = LioTarget(config.target_iqn, config.tpg)
    zvols = zvol.discover(config.datasets)
    if wait:
        left = ctx.deadline.remaining()
        budget = float(ctx.params.device_timeout) if left is None else min(float(ctx.params.device_timeout), left / 2)
        missing = zvol.wait_for_devices(zvols, budget)
    else:
        missing = [z for z in zvols if not os.path.exists(z.device)]
    present = [z for z in zvols if z not in missing]
    with node_lock():
        actual = target.read()
        assignment = identity.assign(present, own, actual, config.max_lun)
        for name, chosen in sorted(assignment.to_store.items()):
            ctx.log.info("storing identity of %s: LUN %d, serial %s", name, chosen.lun, chosen.serial)
        store = {name: (chosen.lun, chosen.serial) for name, chosen in assignment.to_store.items()}
        want = desired.build(config, present, assignment.identities, credentials)
        steps = plan.reconcile(want, actual, own)
        drift = [] if scope is None else [s for s in steps if s.scope != scope]
        todo = steps if scope is None else plan.only(steps, scope)
        if store and plan.hidden_until_enabled(todo):
            store_while_building(ctx, target, todo, store)
        else:
            # Stored before any initiator can see them: a failed store exports nothing new.
            zvol.store_identities(store)
            target.apply(todo)
        saved = str(ctx.params.saveconfig_file)
        if ctx.params.save_config and (todo or not os.path.exists(saved)):
            target.save(saved)
    problems = [f"{z.name} has no device node" for z in missing]
    problems += [f"{name}: {why}" for name, why in sorted(assignment.skipped.items())]
    if seen is not None and not steps and not problems and not assignment.to_store:
        remember(steady.memo_of(ctx.environ), seen, made)
    else:
        forget(steady.memo_of(ctx.environ))
    if drift:
        raise GenericError(f"TPG {config.tpg} of {config.target_iqn} drifted: {'; '.join(s.describe() for s in drift[:5])}")
    if problems:
        return Context.degraded("not exported: " + "; ".join(problems))
    if todo:
        ctx.log.info("%d change(s) applied to TPG %d of %s", len(todo), config.tpg, config.target_iqn)
    return None


def store_while_building(ctx: Context, target: LioTarget, steps: list[plan.Step], store: dict[str, tuple[int, str]]) -> None:
    """Store identities while a TPG that takes no logins yet is built; enable it only once they are stored.

    The store waits for a ZFS transaction group to sync, the build is configfs writes: side by side
    they take the longer of the two. A failed store leaves the TPG disabled (nobody saw the LUNs) and
    fails the action; stop removes what was built."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as worker:
        storing = worker.submit(zvol.store_identities, store)
        try:
            target.apply(steps[:-1])
        except BaseException:
            lost = storing.exception()  # waits for the store; the build's error is the one raised
            if lost is not None:
                ctx.log.error("%s", lost)
            raise
        failed = storing.exception()
    if failed is not None:
        raise failed
    target.apply(steps[-1:])


@agent.action("start")
def start(ctx: Context) -> Outcome | None:
    outcome = reconcile(ctx, scope=None, wait=True)
    if outcome is not None:
        ctx.log.warning("%s", outcome.reason)  # start succeeds; monitor keeps reporting it as degraded
    return None


@agent.action("reload-agent")
def reload_agent(ctx: Context) -> Outcome | None:
    reconcile(ctx, scope=None, wait=False)
    return None


@agent.action("stop")
def stop(ctx: Context) -> None:
    forget(steady.memo_of(ctx.environ))
    config = lio_config.parse(ctx.params)
    target = LioTarget(config.target_iqn, config.tpg)
    if not target.present:
        return
    from zfsha.zpool.kstat import suspended_pools

    suspended = suspended_pools(config.datasets)
    if suspended:
        # Releasing a backstore closes its zvol, which blocks in the kernel while the pool's I/O is
        # suspended: the stop would only run into its timeout before the same fencing.
        raise GenericError(
            f"pool {', '.join(suspended)} is SUSPENDED (its I/O failed): releasing the zvols' backstores would hang, "
            "so the stop fails now; fence this node"
        )
    own = config.ownership
    with node_lock():
        actual = target.read()
        target.apply(plan.teardown(actual, own, config.target_iqn, config.tpg))
        held = plan.held_elsewhere(actual, own)
        if ctx.params.save_config and (actual.tpg is not None or actual.backstores):
            target.save(str(ctx.params.saveconfig_file))
    if held:
        ctx.log.warning("backstores still exported by other TPGs keep their zvols open: %s", ", ".join(held))


@agent.action("monitor")
def monitor(ctx: Context) -> OcfStatus | Outcome | None:
    config = lio_config.parse(ctx.params)
    # One TPG looked up, not the whole target read: reconcile reads that once, under the node lock.
    enabled = LioTarget(config.target_iqn, config.tpg).tpg_enabled()
    if enabled is None:
        return OcfStatus.NOT_RUNNING
    if ctx.is_probe:
        if not enabled:
            raise GenericError(f"TPG {config.tpg} of {config.target_iqn} exists but is disabled (left over?)")
        return None
    return reconcile(ctx, scope=plan.LUN_SCOPE, wait=False)
