"""The FreeBSD port skeleton: checked in as `make freebsd-port` renders it, and its pkg-plist naming
exactly what the port's build (python -m build + python -m installer, as USE_PYTHON=pep517 runs them)
and its post-install put in the stage directory."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from .conftest import CLEAN_PATH, REPO, run

PORT = REPO / "packaging" / "freebsd"
sys.path.insert(0, str(PORT))
import render  # noqa: E402


def port_variable(name: str) -> str:
    match = re.search(rf"^{name}=\s*(.*)$", (PORT / "Makefile").read_text(), re.MULTILINE)
    assert match, f"{name} not set in the port's Makefile"
    return match.group(1).strip()


def test_checked_in_port_is_what_the_template_renders() -> None:
    for name, text in render.rendered().items():
        assert (PORT / name).read_text() == text, f"packaging/freebsd/{name} is stale: run `make freebsd-port`"


def test_port_version_is_setup_cfg_version(version: str) -> None:
    assert port_variable("DISTVERSION") == version


def test_shebang_rewrite_matches_every_script() -> None:
    """shebangfix only rewrites first lines that are exactly python_OLD_CMD (plus arguments)."""
    old = port_variable("python_OLD_CMD")
    patterns = port_variable("SHEBANG_FILES").split()
    scripts = sorted({path for pattern in patterns for path in REPO.glob(pattern)})
    assert {p.name for p in scripts} == {p.name for p in (REPO / "agents").iterdir()} | {
        p.name for p in (REPO / "fence").glob("fence_*")
    }
    for script in scripts:
        first = script.read_text().splitlines()[0]
        assert first == f"#!{old}" or first.startswith(f"#!{old} -"), script


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """What the port would stage, as pkg-plist entries: the wheel built and installed by the tools
    USE_PYTHON=pep517 uses, then the post-install steps of the port's Makefile."""
    for module in ("build", "installer", "wheel", "setuptools"):
        if subprocess.run(["/usr/bin/python3", "-c", f"import {module}"], capture_output=True).returncode:
            pytest.skip(f"needs python3-{module} (make deps installs it)")
    work = tmp_path_factory.mktemp("freebsd")
    source = work / "src"
    listed = run(["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard", "-z"]).stdout.split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    run(["/usr/bin/python3", "-m", "build", "--no-isolation", "--wheel", "--outdir", str(work / "dist"), str(source)])
    stage = work / "stage"
    prefix = "/usr/local"
    run(
        [
            "/usr/bin/python3",
            "-m",
            "installer",
            "--destdir",
            str(stage),
            "--prefix",
            prefix,
            *map(str, (work / "dist").glob("zfsha-*.whl")),
        ]
    )
    # Where this interpreter's scheme put site-packages under the prefix: the parent of zfsha/.
    sitelib = next(stage.rglob("zfsha/__init__.py")).parent.parent
    cache_tag = subprocess.run(
        ["/usr/bin/python3", "-c", "import sys; print(sys.implementation.cache_tag)"], capture_output=True, text=True, check=True
    ).stdout.strip()
    entries = {
        "%%PYTHON_SITELIBDIR%%/" + path.relative_to(sitelib).as_posix().replace(f".{cache_tag}.", "%%PYTHON_EXT_SUFFIX%%.")
        for path in sitelib.rglob("*")
        if path.is_file()
    }
    # post-install: agents, fence agents, and the man pages rendered against the staged library
    entries |= {f"{port_variable('OCF_PROVIDER_DIR')}/{p.name}" for p in (source / "agents").iterdir()}
    entries |= {f"sbin/{p.name}" for p in (source / "fence").glob("fence_*")}
    pages = subprocess.run(
        [
            "/usr/bin/python3",
            str(source / "packaging/man/manpages.py"),
            "--python",
            "/usr/bin/python3",
            "--source",
            str(source),
            str(work / "man"),
        ],
        capture_output=True,
        text=True,
        env={"PATH": CLEAN_PATH, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(sitelib)},
    )
    assert pages.returncode == 0, pages.stderr
    entries |= {f"share/man/man{p.suffix[1:]}/{p.name}.gz" for p in (work / "man").iterdir()}
    return entries


def test_pkg_plist_lists_exactly_what_the_port_stages(staged: set[str]) -> None:
    plist = set((PORT / "pkg-plist").read_text().split())
    assert sorted(plist - staged) == [], "listed but not installed"
    assert sorted(staged - plist) == [], "installed but not listed"


def test_pkg_plist_covers_every_agent_module_and_page() -> None:
    plist = set((PORT / "pkg-plist").read_text().split())
    for agent in (REPO / "agents").iterdir():
        assert f"lib/ocf/resource.d/zfsha/{agent.name}" in plist
        assert f"share/man/man7/ocf_zfsha_{agent.name}.7.gz" in plist
    for fence in (REPO / "fence").glob("fence_*"):
        assert f"sbin/{fence.name}" in plist
        assert f"share/man/man8/{fence.name}.8.gz" in plist
    for module in (REPO / "lib").rglob("*.py"):
        if "__pycache__" not in module.parts:
            assert f"%%PYTHON_SITELIBDIR%%/{module.relative_to(REPO / 'lib').as_posix()}" in plist
