#!/usr/bin/python3
"""Render the FreeBSD port from the tree: Makefile from Makefile.in (DISTVERSION from setup.cfg) and
pkg-plist from the files the port installs.

usage: render.py [--check]     (writes Makefile and pkg-plist beside this script; --check only compares)

pkg-plist lists every OCF agent, fence agent, man page, library module with the bytecode that
`python -m installer` writes for it (optimisation levels 0 and 1), and the wheel's dist-info.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TREE = HERE.parents[1]
sys.path.insert(0, str(TREE / "packaging" / "man"))
from manpages import fence_agents, ocf_agents, page_name, setup_cfg_version  # noqa: E402

OCF_PROVIDER_DIR = "lib/ocf/resource.d/zfsha"
SITELIB = "%%PYTHON_SITELIBDIR%%"
EXT_SUFFIX = "%%PYTHON_EXT_SUFFIX%%"
# What setuptools' bdist_wheel puts in the dist-info of a project with no license files or entry points.
DIST_INFO_FILES = ("METADATA", "RECORD", "WHEEL", "top_level.txt")


def render_makefile(version: str) -> str:
    return (HERE / "Makefile.in").read_text().replace("@DISTVERSION@", version)


def library_modules(tree: Path) -> list[Path]:
    """Modules of the packages setuptools finds under lib/ (directories holding __init__.py)."""
    lib = tree / "lib"
    packages = [init.parent for init in lib.rglob("__init__.py")]
    return sorted(module.relative_to(lib) for package in packages for module in package.glob("*.py"))


def plist_entries(tree: Path, version: str) -> list[str]:
    entries = [f"{OCF_PROVIDER_DIR}/{agent.name}" for agent in ocf_agents(tree)]
    entries += [f"sbin/{agent.name}" for agent in fence_agents(tree)]
    entries += [f"share/man/man7/{page_name('zfsha', agent.name)}.7.gz" for agent in ocf_agents(tree)]
    entries += [f"share/man/man8/{agent.name}.8.gz" for agent in fence_agents(tree)]
    for module in library_modules(tree):
        entries.append(f"{SITELIB}/{module.as_posix()}")
        cache = module.parent / "__pycache__" / module.stem
        entries += [f"{SITELIB}/{cache.as_posix()}{EXT_SUFFIX}.opt-1.pyc", f"{SITELIB}/{cache.as_posix()}{EXT_SUFFIX}.pyc"]
    entries += [f"{SITELIB}/zfsha-{version}.dist-info/{name}" for name in DIST_INFO_FILES]
    return sorted(entries)


def rendered(tree: Path = TREE) -> dict[str, str]:
    version = setup_cfg_version(tree)
    return {"Makefile": render_makefile(version), "pkg-plist": "\n".join(plist_entries(tree, version)) + "\n"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the checked-in port differs")
    args = parser.parse_args()
    stale = []
    for name, text in rendered().items():
        path = HERE / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale: {', '.join(stale)}: run `make freebsd-port`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
