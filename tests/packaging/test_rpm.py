"""The EL9 RPM built by `make rpm` (rpmbuild -bb): its files, their modes, and what it requires."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from manpages import expected_pages

from .conftest import REPO, run, tree_agents, tree_fence_agents, tree_library_modules

OCF_DIR = "/usr/lib/ocf/resource.d/zfsha"
# %{python3_sitelib}: /usr/lib/python3.9/site-packages on EL9, the same layout for the builder's python
SITELIB = re.compile(r"^/usr/lib/python3\.\d+/site-packages/")


def rpm_files(rpm: Path) -> dict[str, str]:
    """Path -> mode of every regular file, from rpm's own query."""
    out = run(["rpm", "-qp", "--queryformat", "[%{FILEMODES:perms} %{FILENAMES}\n]", str(rpm)]).stdout
    files = {}
    for line in out.splitlines():
        mode, path = line.split(" ", 1)
        if mode.startswith("-"):
            files[path] = mode
    return files


def test_rpm_lists_the_agents_library_and_man_pages_at_el9_paths(rpm: Path) -> None:
    listed = run(["rpm", "-qlp", str(rpm)]).stdout.split()
    files = rpm_files(rpm)
    assert sorted(p.rsplit("/", 1)[1] for p in files if p.startswith(OCF_DIR + "/")) == tree_agents()
    assert sorted(p.rsplit("/", 1)[1] for p in files if p.startswith("/usr/sbin/")) == tree_fence_agents()
    assert all(files[p] == "-rwxr-xr-x" for p in files if p.startswith((OCF_DIR + "/", "/usr/sbin/")))
    assert OCF_DIR in listed, "the package owns its provider directory"
    modules = sorted(SITELIB.sub("", p) for p in files if SITELIB.match(p) and p.endswith(".py"))
    assert modules == tree_library_modules()
    # EL9's brp-compress gzips man pages after %install; Debian's rpm leaves them plain.
    pages = sorted(re.sub(r"\.gz$", "", p) for p in files if p.startswith("/usr/share/man/"))
    assert pages == sorted(f"/usr/share/man/man{name[-1]}/{name}" for name in expected_pages(REPO))


def test_rpm_ships_nothing_else(rpm: Path, version: str) -> None:
    allowed = re.compile(
        rf"^({OCF_DIR}/[^/]+|/usr/sbin/fence_[^/]+|{SITELIB.pattern[1:]}zfsha/.+\.py"
        rf"|{SITELIB.pattern[1:]}zfsha-{re.escape(version)}\.dist-info/[A-Za-z_.]+"
        rf"|/usr/share/man/man[78]/[^/]+|/usr/share/doc/zfsha(-{re.escape(version)})?/README\.md)$"
    )
    assert [path for path in rpm_files(rpm) if not allowed.match(path)] == []
    assert not any(path.endswith("direct_url.json") for path in rpm_files(rpm)), "build paths leak into the RPM"


def test_rpm_requires_the_el9_runtime_packages(rpm: Path) -> None:
    requires = {line.split()[0] for line in run(["rpm", "-qRp", str(rpm)]).stdout.splitlines()}
    assert {
        "python3-lxml",
        "python3-requests",
        "python3-pyghmi",
        "python3-pexpect",
        "python3-rtslib",
        "pacemaker",
        "resource-agents",
    } <= requires
    assert "/usr/bin/python3" in requires, "the agents' interpreter"


def test_rpm_is_noarch_and_versioned_from_setup_cfg(rpm: Path, version: str) -> None:
    fields = run(["rpm", "-qp", "--queryformat", "%{NAME} %{VERSION} %{ARCH}", str(rpm)]).stdout
    assert fields == f"zfsha {version} noarch"


def test_agents_find_the_library_where_the_rpm_puts_it(rpm: Path, tmp_path: Path) -> None:
    """The agents run with -S: %{python3_sitelib} is written into each at build time (see test_deb)."""
    payload = subprocess.run(["rpm2cpio", str(rpm)], capture_output=True, check=True).stdout
    subprocess.run(["cpio", "-idm", "--quiet"], input=payload, cwd=tmp_path, check=True)
    files = rpm_files(rpm)
    for agent in tree_agents():
        text = (tmp_path / OCF_DIR[1:] / agent).read_text()
        line = next(each for each in text.splitlines() if each.startswith("LIBRARY = "))
        library = line[len('LIBRARY = "') : -len('"')]
        assert SITELIB.match(library + "/"), line
        assert f"{library}/zfsha/steady.py" in files, line
