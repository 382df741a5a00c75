"""ocf:zfsha:zfs-iscsi-pool: the declaration and the handlers of the pool agent.

agents/zfs-iscsi-pool runs it (after answering a steady monitor, zfsha.zpool.steady). It lives here,
not in the agent file, because Python caches a module's bytecode but compiles a script anew on every
run: for this agent that compile cost more instructions than the interpreter's own start-up, on
every monitor.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from zfsha import attributes
from zfsha.errors import CommandError, CommandTimeout, NotInstalledError
from zfsha.ocf import Action, Agent, ConfigError, Context, GenericError, OcfStatus, Param
from zfsha.platform import Platform, current, host_path, run_dir
from zfsha.zpool import health as states
from zfsha.zpool.pool import Pool
from zfsha.zpool.steady import health_attribute, resilver_watch_name

if TYPE_CHECKING:
    from zfsha.zpool.decisions import ResilverVerdict, ResilverWatch
    from zfsha.zpool.status import Leg, PoolStatus

# The health attribute's value while an ONLINE pool's legs catch up (not a ZFS state).
RESILVERING = "RESILVERING"

agent = Agent(
    name="zfs-iscsi-pool",
    shortdesc="ZFS pool mirrored across nodes over iSCSI",
    longdesc=(
        "Imports, exports and monitors one ZFS pool whose mirror vdevs pair local disks with a peer's iSCSI LUNs. "
        "Before importing it logs in to the peers' targets (a peer that is down is not an error: the pool imports "
        "DEGRADED), waits for their devices, and imports with cachefile=none from the configured device directories, "
        "never forced unless force_import is set and the legs' labels show the pool was left imported by a host with "
        "multihost on (then -f at once: one activity check, not two). A pool that ZFS's multihost activity check finds "
        "in use on another host is refused with that host's name and hostid. The monitor reads the pool's kstat state "
        "file (no ZFS locks, no process), reports DEGRADED (190) with the faulted legs, brings legs back when their "
        "device returns, and publishes the pool's health as a node attribute. A leg brought back lacks the writes it "
        "missed until ZFS has resilvered it (the pool reads ONLINE before the resilver even starts), so from bring-back"
        " until zpool status shows that resilver finished the monitor reports 190 with 'resilvering <percent> (<legs>)'"
        " or 'resilver pending (<legs>)' and logs the progress; a resilver that has not started 120 s after bring-back "
        "is taken as one ZFS found unnecessary. Only while such a watch (or a degraded pool) is on does the depth-0 "
        "monitor run zpool status. After an export, stop drops the page cache (blockdev --flushbufs) of this node's own"
        " legs and of the disks they lie on, so a peer importing them through this node's iSCSI target (LIO fileio) "
        "reads what ZFS wrote (Linux)."
    ),
    params=[
        Param("pool", "Name of the ZFS pool", "The pool this resource imports and exports.", required=True, unique_group="pool"),
        Param(
            "device_dirs",
            "Directories zpool import searches",
            "Space-separated directories given to zpool import -d. Empty means the platform's stable names: "
            "/dev/disk/by-partlabel /dev/disk/by-id /dev/disk/by-path on Linux (in that order: a leg keeps the name of "
            "the first directory that holds it, and a local disk's by-path name differs from node to node), /dev/gpt "
            "/dev/label /dev/diskid on FreeBSD.",
            default="",
        ),
        Param(
            "peer_targets",
            "Peer iSCSI targets holding the other legs",
            "Space-separated IQN@PORTAL words (e.g. iqn.2025-01.lab.home:storage-b@10.10.10.2:3260) to be logged in "
            "to before import. A target that does not answer is logged and skipped. A target whose portal is one of this "
            "node's own (non-loopback) addresses is skipped, so one list naming every storage node's target serves the "
            "resource wherever it runs. Empty: no sessions are managed.",
            default="",
        ),
        Param("chap_user", "CHAP user name for the peer targets", "Empty: no CHAP.", default=""),
        Param(
            "chap_secret_file",
            "File holding the CHAP secret",
            "Absolute path of a file (not accessible by others) whose first line is the CHAP secret. The secret never "
            "appears on a command line or in logs.",
            default="",
        ),
        Param(
            "device_wait",
            "Seconds to wait for the peers' devices",
            "After logging in, how long to wait for every logged-in target's LUNs to appear before importing anyway.",
            type="integer",
            default=20,
            minimum=0,
        ),
        Param(
            "mount",
            "Mount the pool's datasets",
            "false imports with -N (no mounts), e.g. for a pool serving only zvols (seed 001's no-mount switchover).",
            type="boolean",
            default=True,
        ),
        Param(
            "require_multihost",
            "Refuse a pool whose multihost property is off",
            "multihost=on makes ZFS refuse to import a pool another live host has imported. Without it only fencing "
            "stands between two nodes and a double import. Set false only if you accept that.",
            type="boolean",
            default=True,
        ),
        Param(
            "force_import",
            "Allow zpool import -f after a crash",
            "Import with -f a pool that another host imported and did not export (it crashed or was fenced), but only "
            "when the labels on its legs (zdb -l -u) show that host had multihost on: ZFS's activity check then still "
            "refuses the pool while that host writes to it. A pool left imported with multihost=off is never forced "
            "(ZFS refuses it in the same words whether its host crashed or still runs it): it needs an admin. Off by "
            "default: then any pool another host did not export needs an admin.",
            type="boolean",
            default=False,
        ),
        Param(
            "export_escalation",
            "What stop does when a plain export fails",
            "none: fail the stop (Pacemaker then fences the node). force: retry with zpool export -f (forced unmount) "
            "within the stop's deadline. A suspended pool or an export that hangs always fails the stop.",
            type="select",
            choices=("none", "force"),
            default="force",
        ),
        Param(
            "health_attribute",
            "Node attribute carrying the pool's health",
            "Transient node attribute set to the pool's health while it is imported here: ZFS's word (ONLINE, "
            "DEGRADED, SUSPENDED, ...), except RESILVERING while an ONLINE pool's legs are being (or waiting to be) "
            "resilvered, when a failover would find the other node's copy incomplete. Empty means "
            "zfs-pool-<pool>-health.",
            default="",
        ),
        Param(
            "max_replacement_timeout",
            "Longest acceptable iSCSI failure detection (s)",
            "validate-all at depth 10 reports peers whose open-iscsi replacement_timeout is longer (seed 004: 5).",
            type="integer",
            default=5,
            minimum=1,
        ),
    ],
    actions=[
        Action("start", timeout=150),
        Action("stop", timeout=90),
        Action("monitor", timeout=30, interval=10, depth=0),
        Action("monitor", timeout=60, interval=61, depth=10),
        Action("validate-all", timeout=30),
        Action("meta-data", timeout=5),
    ],
)


# ---- helpers the handlers read through ------------------------------------------------------------


def the_pool(ctx: Context) -> Pool:
    return Pool(ctx.params.pool, current())


def attribute_name(ctx: Context) -> str:
    return health_attribute(ctx.params.pool, ctx.params.health_attribute)


def device_dirs(ctx: Context, platform: Platform) -> tuple[str, ...]:
    return tuple(ctx.params.device_dirs.split()) or platform.default_device_dirs


def targets(ctx: Context):  # type: ignore[no-untyped-def]
    from zfsha.iscsi import parse_targets, served_here

    listed = parse_targets(ctx.params.peer_targets)
    if ctx.action == "validate-all":
        return listed
    own = [target for target in listed if served_here(target)]
    for target in own:
        ctx.log.debug("%s is this node's own target: its disks are local here", target)
    return [target for target in listed if target not in own]


def chap(ctx: Context):  # type: ignore[no-untyped-def]
    from zfsha.iscsi import Chap
    from zfsha.secrets import read_secret_file

    if not ctx.params.chap_secret_file:
        return None
    return Chap(ctx.params.chap_user, read_secret_file(ctx.params.chap_secret_file, "CHAP secret"))


def sessions(ctx: Context, platform: Platform) -> list:  # type: ignore[type-arg]
    from zfsha.iscsi.sessions import ensure_sessions

    return ensure_sessions(platform.initiator(), targets(ctx), chap(ctx), ctx.deadline, starting=ctx.action == "start")


def require_hostid(platform: Platform) -> None:
    if platform.hostid() == 0:
        raise NotInstalledError("this node has no hostid (multihost needs a unique one): run zgenhostid once and reboot")


def watch_file(ctx: Context):  # type: ignore[no-untyped-def]
    """Present while a resilver is awaited or runs: the depth-0 monitor then reads zpool status."""
    return run_dir() / resilver_watch_name(ctx.params.pool)


def read_watch(ctx: Context) -> ResilverWatch | None:
    from zfsha.zpool.decisions import ResilverWatch

    path = watch_file(ctx)
    try:
        return ResilverWatch.loads(path.read_text(encoding="utf-8"), path.stat().st_mtime)
    except FileNotFoundError:
        return None


def save_watch(ctx: Context, watch: ResilverWatch) -> None:
    watch_file(ctx).write_text(watch.dumps(), encoding="utf-8")


def stuck_file(ctx: Context):  # type: ignore[no-untyped-def]
    """The legs zpool online did not bring back, so each is warned about once, not every monitor."""
    return run_dir() / f"stuck-legs-{ctx.params.pool}"


def account_for_returns(
    ctx: Context, pool: Pool, attempted: list[Leg], before: PoolStatus, after: PoolStatus, watch: ResilverWatch | None
) -> ResilverWatch | None:
    """Log the legs `zpool online` really brought back (per `after`) and start the resilver watch for
    them; warn once about a leg that stayed out, which the watch does not name."""
    import time

    from zfsha.zpool.decisions import returned_legs, start_watch

    back, stuck = returned_legs(attempted, after)
    for leg in back:
        ctx.log.info("brought leg %s of %s back online (was %s): a resilver is awaited", leg.path, pool.name, leg.state)
    memo = stuck_file(ctx)
    warned = set(memo.read_text(encoding="utf-8").splitlines()) if memo.exists() else set()
    for leg in stuck:
        if leg.path not in warned:
            ctx.log.warning(
                "zpool online %s %s left it %s: its device is there but ZFS cannot use it (zpool status %s)",
                pool.name,
                leg.path,
                leg.state,
                pool.name,
            )
    if stuck:
        memo.write_text("".join(f"{leg.path}\n" for leg in stuck), encoding="utf-8")
    else:
        memo.unlink(missing_ok=True)
    if not back:
        return watch
    stuck_paths = {leg.path for leg in stuck}
    previous = [path for path in (watch.legs if watch else ()) if path not in stuck_paths]
    # Against the scan shown before the online: only a resilver finishing after it ends the watch.
    watch = start_watch(before, [*previous, *(leg.path for leg in back)], time.time())
    save_watch(ctx, watch)
    return watch


def health_word(health: str, resilvering: bool) -> str:
    """The attribute's value: ZFS's health, except RESILVERING for an ONLINE pool not yet redundant."""
    return RESILVERING if resilvering and health == states.ONLINE else health


def watch_resilver(ctx: Context, pool: Pool, status: PoolStatus, watch: ResilverWatch | None) -> ResilverVerdict | None:
    """Log a resilver's progress and keep the watch file in step with it; the verdict (None: nothing to say)."""
    import time

    from zfsha.zpool.decisions import resilver_verdict, start_watch

    now = time.time()
    verdict = resilver_verdict(status, watch, now)
    if verdict is None:
        return None
    if verdict.active:
        running = status.scan.summary if status.scan is not None and status.scan.running else ""
        ctx.log.info("pool %s %s%s", pool.name, verdict.phrase, f": {running}" if running else "")
        if watch is None:
            save_watch(ctx, start_watch(status, [leg.path for leg in status.legs if leg.resilvering], now))
    else:
        ctx.log.info("pool %s %s", pool.name, verdict.phrase)
        watch_file(ctx).unlink(missing_ok=True)
    return verdict


# ---- actions --------------------------------------------------------------------------------------


@agent.validate
def validate(ctx: Context) -> None:
    from zfsha.zpool.names import pool_name_problem

    problem = pool_name_problem(ctx.params.pool)
    if problem:
        raise ConfigError(problem)
    targets(ctx)
    if bool(ctx.params.chap_user) != bool(ctx.params.chap_secret_file):
        raise ConfigError("chap_user and chap_secret_file go together: set both or neither")
    for path in [*ctx.params.device_dirs.split(), *([ctx.params.chap_secret_file] if ctx.params.chap_secret_file else [])]:
        if not path.startswith("/"):
            raise ConfigError(f"{path} must be an absolute path")
    if ctx.depth >= 10:
        validate_host(ctx)


def validate_host(ctx: Context) -> None:
    """Depth 10: this node can run the pool (tools, hostid, tunables, timeouts, secrets)."""
    from zfsha import run
    from zfsha.zpool.decisions import start_timeout_problem

    platform = current()
    tools = ["zpool", "zfs"] + ([platform.initiator().tool] if ctx.params.peer_targets else [])
    tools += ["zdb"] if ctx.params.force_import else []  # reads the labels before any forced import
    missing = [tool for tool in tools if run.which(tool) is None]
    if missing:
        raise NotInstalledError(f"{', '.join(missing)} not installed")
    require_hostid(platform)
    chap(ctx)
    problems: list[str] = []
    for directory in ctx.params.device_dirs.split():
        if not os.path.isdir(host_path(directory)):
            problems.append(f"device directory {directory} does not exist")
    tunables = platform.multihost_tunables()
    if tunables is None:
        problems.append("the zfs module's multihost tunables cannot be read (is the zfs module loaded?)")
    else:
        timeout = configured_start_timeout(ctx)
        if timeout is not False:
            problem = start_timeout_problem(timeout, tunables, ctx.params.device_wait, ctx.params.force_import)
            if problem:
                problems.append(problem)
    for target in targets(ctx):
        problem = platform.initiator().slow_failure(target, ctx.params.max_replacement_timeout)
        if problem:
            problems.append(problem)
    if problems:
        raise ConfigError("; ".join(problems))


def configured_start_timeout(ctx: Context) -> float | bool | None:
    """The start op timeout in the CIB (None when no start op sets one); False outside a cluster."""
    from zfsha import run
    from zfsha.zpool.decisions import start_timeout_in

    if not ctx.environ.get("OCF_RESOURCE_INSTANCE"):
        return False
    result = run.run(["crm_resource", "--resource", ctx.instance.split(":")[0], "--query-xml"], check=False, timeout=10)
    if result.returncode != 0:
        ctx.log.info("start timeout not checked: %s", " ".join(result.stderr.split()) or "no cluster")
        return False
    return start_timeout_in(result.stdout)


@agent.action("start")
def start(ctx: Context) -> None:
    from zfsha.zpool.service import ensure_mounted, import_pool, require_multihost

    platform = current()
    pool = the_pool(ctx)
    require_hostid(platform)
    health = pool.health()
    if health:
        ctx.log.info("pool %s is already imported here (%s)", pool.name, health)
    else:
        from zfsha.iscsi.sessions import wait_for_devices

        logged_in = sessions(ctx, platform)
        wait_for_devices(platform.initiator(), logged_in, ctx.deadline.cap(float(ctx.params.device_wait)) or 0.0)
        import_pool(pool, device_dirs(ctx, platform), mount=ctx.params.mount, force_import=ctx.params.force_import)
    if ctx.params.require_multihost:
        require_multihost(pool, just_imported=not health, timeout=ctx.deadline.remaining())
    health = pool.health()
    if not states.can_serve(health):
        raise GenericError(f"pool {pool.name} imported but {health or 'gone'}: it cannot serve")
    if ctx.params.mount:
        ensure_mounted(pool)
    resilvering = False
    try:
        # An import can start a resilver (a leg that missed writes): watching it from here on makes the
        # depth-0 monitor report it, where the kstat file alone reads ONLINE.
        status = pool.status()
        verdict = watch_resilver(ctx, pool, status, read_watch(ctx))
        resilvering = verdict is not None and verdict.active
        if health == states.DEGRADED:
            from zfsha.zpool.decisions import describe_legs

            ctx.log.warning("started %s DEGRADED, legs not ONLINE: %s", pool.name, describe_legs(status))
    except CommandError as err:
        ctx.log.warning("started %s %s; its status could not be read: %s", pool.name, health, err.reason)
    attributes.publish(attribute_name(ctx), health_word(health, resilvering))


@agent.action("stop")
def stop(ctx: Context) -> None:
    from zfsha.zpool.service import drop_stale_page_caches, pool_leaf_paths

    pool = the_pool(ctx)
    health = pool.health()
    if not health:
        attributes.withdraw(attribute_name(ctx))
        return
    if health == states.SUSPENDED:
        raise GenericError(
            f"pool {pool.name} is SUSPENDED (its I/O failed): an export would hang, so the stop fails now; fence this node"
        )
    leaf_paths = pool_leaf_paths(pool)
    escalate = ctx.params.export_escalation == "force"
    try:
        budget = ctx.deadline.remaining()
        pool.export(force=False, timeout=budget / 2 if (escalate and budget) else budget)
    except CommandTimeout as err:
        raise GenericError(f"zpool export {pool.name} hung ({err.reason}): pool I/O is stuck; fence this node") from None
    except CommandError as err:
        if not escalate:
            raise GenericError(f"zpool export {pool.name} failed and export_escalation=none: {err.reason}") from None
        ctx.log.warning("plain export failed (%s): retrying with -f", err.reason)
        try:
            pool.export(force=True, timeout=ctx.deadline.remaining())
        except CommandTimeout as timeout:
            raise GenericError(f"zpool export -f {pool.name} hung ({timeout.reason}): fence this node") from None
    left = pool.health()
    if left:
        raise GenericError(f"pool {pool.name} is still imported ({left}) after export")
    drop_stale_page_caches(current(), leaf_paths)
    attributes.withdraw(attribute_name(ctx))
    watch_file(ctx).unlink(missing_ok=True)
    stuck_file(ctx).unlink(missing_ok=True)


@agent.action("monitor")
def monitor(ctx: Context):  # type: ignore[no-untyped-def]
    pool = the_pool(ctx)
    health = pool.health()
    if not health:
        return OcfStatus.NOT_RUNNING
    watching = watch_file(ctx).exists()
    if health == states.ONLINE and ctx.depth < 10 and not watching:
        attributes.publish(attribute_name(ctx), health, only_if_changed=True)
        return OcfStatus.SUCCESS
    return examine(ctx, pool, health, watching)


def examine(ctx: Context, pool: Pool, health: str, watching: bool):  # type: ignore[no-untyped-def]
    """Anything but a plain ONLINE at depth 0: look closer, repair what can be repaired, say why."""
    from zfsha.zpool.decisions import degraded_reason, describe_legs
    from zfsha.zpool.service import bring_back_legs, rename_missing_legs

    if not states.can_serve(health):
        attributes.publish(attribute_name(ctx), health, only_if_changed=True)
        raise GenericError(f"pool {pool.name} is {health} while imported here: it cannot serve")
    try:
        status = pool.status(timeout=status_budget(ctx))
    except CommandTimeout as err:
        return answer_without_status(ctx, pool, health, watching, err)
    watch = read_watch(ctx) if watching else None
    notes: list[str] = []
    if ctx.depth >= 10 or health == states.DEGRADED:
        platform = current()
        wanted = targets(ctx)
        live = []
        if wanted:
            live = sessions(ctx, platform)
            down = [str(t) for t in wanted if t not in live]
            if down:
                notes.append(f"{len(down)} iSCSI session(s) down")
                ctx.log.warning("iSCSI sessions down: %s", ", ".join(down))
        if health == states.DEGRADED:
            rename_missing_legs(status, platform.initiator(), live, ctx.deadline)
            attempted = bring_back_legs(pool, status)
            after = status
            if attempted:  # nothing was onlined: the status just read still holds
                try:
                    after = pool.status(timeout=status_budget(ctx))
                except CommandTimeout as err:
                    # Which legs came back is unknown: the next monitor reads the status again.
                    return answer_without_status(ctx, pool, health, True, err)
            watch = account_for_returns(ctx, pool, attempted, status, after, watch)
            status = after
    if ctx.depth >= 10 and ctx.params.require_multihost and pool.get("multihost") != "on":
        raise GenericError(f"pool {pool.name} has multihost=off now: run zpool set multihost=on {pool.name}")
    verdict = watch_resilver(ctx, pool, status, watch)
    resilvering = verdict is not None and verdict.active
    health = status.state if status.state in states.SERVING else health
    attributes.publish(attribute_name(ctx), health_word(health, resilvering), only_if_changed=True)
    if health == states.DEGRADED or status.unhealthy_legs:
        ctx.log.warning("pool %s legs not ONLINE: %s", pool.name, describe_legs(status))
    if health == states.DEGRADED or status.unhealthy_legs or resilvering:
        phrase = verdict.phrase if verdict is not None and resilvering else ""
        return ctx.degraded("; ".join([degraded_reason(status, phrase), *notes]))
    return OcfStatus.SUCCESS


def status_budget(ctx: Context) -> float:
    """How long the monitor waits for zpool status: a third of what is left of its deadline, so that
    a zpool blocked on ZFS's namespace lock (another node's or resource's import scan holds it through
    a multihost activity check) still leaves time to answer from the lock-free state."""
    from zfsha.zpool.pool import QUERY_SECONDS

    remaining = ctx.deadline.remaining()
    return QUERY_SECONDS if remaining is None else max(1.0, min(QUERY_SECONDS, remaining / 3))


def answer_without_status(ctx: Context, pool: Pool, health: str, watching: bool, err: CommandTimeout):  # type: ignore[no-untyped-def]
    """The lock-free health is all there is: say so rather than time the monitor out (which Pacemaker
    answers with a restart of a pool that is serving)."""
    ctx.log.warning("zpool status %s did not answer (%s): reporting the lock-free state %s", pool.name, err.reason, health)
    attributes.publish(attribute_name(ctx), health_word(health, watching), only_if_changed=True)
    if health == states.DEGRADED:
        return ctx.degraded(f"pool {pool.name} DEGRADED (zpool status busy: legs not read)")
    if watching:
        return ctx.degraded(f"pool {pool.name} ONLINE; resilver state unknown (zpool status busy)")
    return OcfStatus.SUCCESS
