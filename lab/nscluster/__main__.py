"""Command line: `python3 -m lab.nscluster COMMAND --state-dir DIR ...` (see README.md)."""

from __future__ import annotations

import argparse
import subprocess
import sys

from .cluster import Cluster, NodeOff, cleanup, cleanup_stale


def parse_env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--env wants KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python3 -m lab.nscluster", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start a cluster and leave it running")
    up.add_argument("--nodes", type=int, default=3)
    up.add_argument(
        "--agents",
        choices=("tree", "installed"),
        default=None,
        help="agents from the working tree (default) or the installed package",
    )
    up.add_argument("--stonith", action="store_true", help="seed stonith-enabled=true")
    up.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="extra environment of the daemons (repeatable)"
    )

    commands.add_parser("down", help="shut the cluster down and remove its namespaces")
    sweep = commands.add_parser("cleanup", help="kill whatever is left of the cluster (no clean shutdown)")
    sweep.add_argument(
        "--stale", action="store_true", help="instead: sweep every cluster whose owning process died (no --state-dir)"
    )
    commands.add_parser("status", help="print each node's power state")

    exec_ = commands.add_parser("exec", help="run a command inside a node")
    exec_.add_argument("node")
    exec_.add_argument("argv", nargs=argparse.REMAINDER)

    power = commands.add_parser("power", help="power a node on or off, or print its state")
    power.add_argument("action", choices=("on", "off", "status"))
    power.add_argument("node")
    power.add_argument("--boot-delay", type=float, default=8.0)

    for name, sub in commands.choices.items():
        sub.add_argument("--state-dir", required=name != "cleanup")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "up":
        cluster = Cluster(
            args.state_dir, nodes=args.nodes, stonith_enabled=args.stonith, extra_env=parse_env(args.env), agents=args.agents
        )
        try:
            cluster.start()
        except BaseException:
            cluster.stop(graceful=False)
            raise
        cluster.detach()
        for name in cluster.nodes:
            print(f"{name} {cluster.address(name)} online")
        return 0
    if args.command == "cleanup":
        if args.stale:
            for removed in cleanup_stale():
                print(f"removed {removed}")
        elif args.state_dir:
            cleanup(args.state_dir)
        else:
            raise SystemExit("cleanup needs --state-dir DIR or --stale")
        return 0
    cluster = Cluster.attach(args.state_dir)
    if args.command == "down":
        cluster.stop()
    elif args.command == "status":
        for name in cluster.nodes:
            print(f"{name} {'on' if cluster.power_state(name) else 'off'}")
    elif args.command == "power":
        if args.action == "on":
            cluster.power_on(args.node, boot_delay=args.boot_delay)
        elif args.action == "off":
            cluster.power_off(args.node)
        else:
            print("on" if cluster.power_state(args.node) else "off")
    elif args.command == "exec":
        command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        if not command:
            raise SystemExit("exec needs a command after --")
        try:
            return subprocess.run(cluster.command(args.node, command), env=cluster.node_env()).returncode
        except NodeOff as error:
            print(error, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
