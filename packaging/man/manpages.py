#!/usr/bin/python3
"""Write every zfsha man page into one directory, from what the agents themselves print.

usage: manpages.py OUTDIR [--source TREE] [--python INTERPRETER] [--version VERSION]

OCF agents (TREE/agents/*) become ocf_zfsha_<agent>.7, rendered by ocf2man from their `meta-data`;
fence agents (TREE/fence/fence_*) become fence_<x>.8 from their own `-o manpage`. The agents run on
INTERPRETER with the caller's environment, so a package build points PYTHONPATH at the library it just
installed and the pages describe exactly what is shipped. VERSION (default: setup.cfg's) goes on the
OCF pages; the fence pages carry the version the installed library reports.
"""

from __future__ import annotations

import argparse
import configparser
import subprocess
import sys
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ocf2man import page, page_name

PROVIDER = "zfsha"
TREE = Path(__file__).resolve().parents[2]


def setup_cfg_version(tree: Path) -> str:
    parser = configparser.ConfigParser()
    if not parser.read(tree / "setup.cfg"):
        raise SystemExit(f"no setup.cfg in {tree}")
    return parser.get("metadata", "version")


def agent_output(python: str, agent: Path, *args: str) -> str:
    # Build tooling, not agent code: zfsha.run is for what the agents start at run time.
    done = subprocess.run([python, str(agent), *args], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise SystemExit(f"{agent.name} {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def ocf_agents(tree: Path) -> list[Path]:
    return sorted(path for path in (tree / "agents").iterdir() if path.is_file())


def fence_agents(tree: Path) -> list[Path]:
    return sorted((tree / "fence").glob("fence_*"))


def expected_pages(tree: Path) -> list[str]:
    """File names of the pages write_pages makes for this tree."""
    return [f"{page_name(PROVIDER, agent.name)}.7" for agent in ocf_agents(tree)] + [
        f"{agent.name}.8" for agent in fence_agents(tree)
    ]


def write_pages(outdir: Path, tree: Path, python: str, version: str) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for agent in ocf_agents(tree):
        document = etree.fromstring(agent_output(python, agent, "meta-data").encode())
        target = outdir / f"{page_name(PROVIDER, agent.name)}.7"
        target.write_text(page(document, PROVIDER, version))
        written.append(target)
    for agent in fence_agents(tree):
        target = outdir / f"{agent.name}.8"
        target.write_text(agent_output(python, agent, "-o", "manpage"))
        written.append(target)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--source", type=Path, default=TREE)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--version")
    args = parser.parse_args()
    version = args.version or setup_cfg_version(args.source)
    for path in write_pages(args.outdir, args.source, args.python, version):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
