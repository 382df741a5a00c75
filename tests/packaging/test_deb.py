"""The Debian package: where it puts things, what it depends on, its man pages and lintian."""

from __future__ import annotations

import gzip
import re
import subprocess
from pathlib import Path

from manpages import expected_pages

from .conftest import CLEAN_PATH, REPO, require_tools, run, tree_agents, tree_fence_agents, tree_library_modules

OCF_DIR = "/usr/lib/ocf/resource.d/zfsha"
DIST_PACKAGES = "/usr/lib/python3/dist-packages"


def deb_files(deb: Path) -> dict[str, str]:
    """Path -> mode string ('-rwxr-xr-x') of every regular file in the package."""
    files = {}
    for line in run(["dpkg-deb", "-c", str(deb)]).stdout.splitlines():
        mode, _owner, _size, _date, _time, path = line.split(None, 5)
        if mode.startswith("-"):
            files[path.removeprefix(".")] = mode
    return files


def test_ocf_agents_are_executables_in_the_provider_directory(deb: Path) -> None:
    files = deb_files(deb)
    shipped = sorted(path.rsplit("/", 1)[1] for path in files if path.startswith(OCF_DIR + "/"))
    assert shipped == tree_agents()
    assert all(files[f"{OCF_DIR}/{agent}"] == "-rwxr-xr-x" for agent in shipped)


def test_fence_agents_are_executables_in_usr_sbin(deb: Path) -> None:
    files = deb_files(deb)
    shipped = sorted(path.rsplit("/", 1)[1] for path in files if path.startswith("/usr/sbin/"))
    assert shipped == tree_fence_agents()
    assert all(files[f"/usr/sbin/{agent}"] == "-rwxr-xr-x" for agent in shipped)


def test_library_is_every_module_for_the_system_python3_and_nothing_compiled(deb: Path) -> None:
    files = deb_files(deb)
    modules = sorted(path.removeprefix(DIST_PACKAGES + "/") for path in files if path.startswith(f"{DIST_PACKAGES}/zfsha/"))
    assert modules == tree_library_modules()


def test_man_pages_are_every_agents_page_in_its_section(deb: Path) -> None:
    pages = sorted(path for path in deb_files(deb) if path.startswith("/usr/share/man/"))
    # ocf_zfsha_<agent>.7 (as resource-agents names its pages) and fence_<x>.8
    assert pages == sorted(f"/usr/share/man/man{name[-1]}/{name}.gz" for name in expected_pages(REPO))


def test_nothing_else_is_shipped(deb: Path) -> None:
    allowed = re.compile(
        rf"^({OCF_DIR}/[^/]+|/usr/sbin/fence_[^/]+|{DIST_PACKAGES}/zfsha/.+\.py"
        rf"|{DIST_PACKAGES}/zfsha-[^/]+\.dist-info/[^/]+|/usr/share/man/man[78]/[^/]+\.gz"
        r"|/usr/share/doc/zfsha/(copyright|changelog\.gz)|/usr/share/lintian/overrides/zfsha)$"
    )
    assert [path for path in deb_files(deb) if not allowed.match(path)] == []


def test_depends_on_the_runtime_libraries(deb: Path) -> None:
    depends = {item.split()[0] for item in run(["dpkg-deb", "-f", str(deb), "Depends"]).stdout.split(",")}
    assert {"python3-lxml", "python3-requests", "python3-pyghmi", "python3-pexpect", "python3-rtslib-fb"} <= depends
    assert "python3:any" in depends or "python3" in depends


def test_man_pages_carry_the_package_version_and_render_without_warnings(deb_root: Path, version: str) -> None:
    require_tools("man")
    pages = sorted((deb_root / "usr/share/man").glob("man*/*.gz"))
    assert pages
    for page in pages:
        header = gzip.decompress(page.read_bytes()).decode().splitlines()[0]
        assert header.startswith(".TH ") and f' {version}"' in header, f"{page.name}: {header}"
        rendered = subprocess.run(
            ["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", str(page)],
            capture_output=True,
            text=True,
            timeout=30,
            env={"PATH": CLEAN_PATH, "LC_ALL": "C.UTF-8", "MANROFFSEQ": ""},
        )
        assert rendered.returncode == 0 and rendered.stderr == "", f"{page.name}: {rendered.stderr}"


def test_lintian_reports_nothing_but_explained_overrides(deb: Path) -> None:
    """Every level, pedantic and experimental included. O: is an override whose reason is in
    packaging/debian/zfsha.lintian-overrides; M: is a tag lintian itself masks as not applicable."""
    require_tools("lintian")
    changes = next(deb.parent.glob("zfsha_*.changes"))
    report = run(["lintian", "-EIL", "+pedantic", "--display-experimental", "--show-overrides", str(changes)])
    # N: lines are notes (an override's comment); every tag line has a one-letter level.
    tags = [line for line in report.stdout.splitlines() if re.match(r"^[A-MO-Z]: ", line)]
    assert tags, "lintian printed no tags at all, not even the overridden ones: did it run?"
    assert [tag for tag in tags if not tag.startswith(("O: ", "M: "))] == []


def test_agents_find_the_library_where_the_package_puts_it(deb_root: Path) -> None:
    """The agents run with -S and a steady monitor never imports site: each names the library's
    directory (Debian's in the tree; the RPM and the port rewrite it), which must hold the library."""
    for agent in tree_agents():
        assert f'\nLIBRARY = "{DIST_PACKAGES}"\n' in (deb_root / OCF_DIR[1:] / agent).read_text(), agent
    assert (deb_root / DIST_PACKAGES[1:] / "zfsha" / "steady.py").is_file()
