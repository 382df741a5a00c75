"""One version, setup.cfg's, on every package."""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import REPO, run


def test_deb_rpm_and_freebsd_port_carry_setup_cfg_version(deb: Path, rpm: Path, version: str) -> None:
    deb_version = run(["dpkg-deb", "-f", str(deb), "Version"]).stdout.strip()
    rpm_version = run(["rpm", "-qp", "--queryformat", "%{VERSION}", str(rpm)]).stdout
    port = re.search(r"^DISTVERSION=\s*(\S+)", (REPO / "packaging/freebsd/Makefile").read_text(), re.MULTILINE)
    assert port
    assert (deb_version, rpm_version, port.group(1)) == (version, version, version)


def test_packaged_library_reports_the_same_version(deb_root: Path, version: str) -> None:
    """zfsha.version() reads the installed dist-info: the .deb must carry setup.cfg's version there too."""
    assert (deb_root / f"usr/lib/python3/dist-packages/zfsha-{version}.dist-info/METADATA").is_file()
