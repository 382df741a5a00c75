"""Command line: `python3 -m lab.vm build-image [--cache DIR] [--force]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from lab.vm.image import ensure_image


def main() -> None:
    parser = argparse.ArgumentParser(prog="python3 -m lab.vm")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build-image", help="build (or reuse) the cached guest base image")
    build.add_argument("--cache", type=Path, help="cache directory (default lab/vm/cache or $LAB_VM_CACHE)")
    build.add_argument("--force", action="store_true", help="rebuild even if a cached image matches")
    arguments = parser.parse_args()
    if arguments.command == "build-image":
        image = ensure_image(arguments.cache, force=arguments.force)
        print(image.directory)


if __name__ == "__main__":
    main()
