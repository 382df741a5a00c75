"""Fixtures for the packaging tier: the .deb and the RPM built once per session, into a temporary
build directory (`make deb|rpm BUILD=...`), so a developer's build/ is left alone."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "packaging" / "man") not in sys.path:
    sys.path.insert(0, str(REPO / "packaging" / "man"))

CLEAN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def setup_cfg_version() -> str:
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    return parser.get("metadata", "version")


def run(argv: list[str], *, home: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """A build or inspection tool in a clean environment; its output is shown when it fails. HOME is
    a scratch directory, so no ~/.rpmmacros or pip configuration of the developer's leaks in."""
    env = {"PATH": CLEAN_PATH, "LC_ALL": "C.UTF-8", "HOME": str(home or Path("/nonexistent"))}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def make(target: str, build_dir: Path) -> None:
    home = build_dir / "home"
    home.mkdir(exist_ok=True)
    run(["make", "-C", str(REPO), target, f"BUILD={build_dir}"], home=home, timeout=300)


def require_tools(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool, path=CLEAN_PATH) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (make deps installs them)")


@pytest.fixture(scope="session")
def version() -> str:
    return setup_cfg_version()


@pytest.fixture(scope="session")
def package_build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("packages")


@pytest.fixture(scope="session")
def deb(package_build_dir: Path, version: str) -> Path:
    require_tools("dpkg-buildpackage", "dh", "git", "make")
    make("deb", package_build_dir)
    return package_build_dir / f"zfsha_{version}_all.deb"


@pytest.fixture(scope="session")
def deb_root(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The .deb unpacked as it would be installed."""
    root = tmp_path_factory.mktemp("deb-root")
    run(["dpkg-deb", "-x", str(deb), str(root)])
    return root


@pytest.fixture(scope="session")
def rpm(package_build_dir: Path, version: str) -> Path:
    require_tools("rpmbuild", "rpm", "git", "make")
    make("rpm", package_build_dir)
    built = sorted((package_build_dir / "rpm" / "RPMS" / "noarch").glob(f"zfsha-{version}-*.noarch.rpm"))
    assert len(built) == 1, f"expected one RPM, found {built}"
    return built[0]


def tree_agents() -> list[str]:
    return sorted(path.name for path in (REPO / "agents").iterdir() if path.is_file())


def tree_fence_agents() -> list[str]:
    return sorted(path.name for path in (REPO / "fence").glob("fence_*"))


def tree_library_modules() -> list[str]:
    """zfsha's modules as paths below site-packages (zfsha/run.py, zfsha/ocf/agent.py, ...)."""
    lib = REPO / "lib"
    packages = [init.parent for init in (lib / "zfsha").rglob("__init__.py")]
    return sorted(module.relative_to(lib).as_posix() for package in packages for module in package.glob("*.py"))


def is_root() -> bool:
    return os.geteuid() == 0
