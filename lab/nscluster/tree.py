"""The agents under test, taken from the working tree without installing anything on the host.

Inside a private mount namespace the tree's `agents/` is bind-mounted over the OCF provider
directory and `fence/` is overlaid on /usr/sbin, because Pacemaker, crm_resource and pcs only look
agents up at those standard paths. With agents="installed" (or ZFSHA_TEST_AGENTS=installed) no
mount is made and the installed package is what runs.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from .layout import BOOT_SCRIPT, DAEMON_PATH, PYTHON, REPO_ROOT

OCF_PROVIDER_DIR = Path("/usr/lib/ocf/resource.d/zfsha")
AGENT_MODES = ("tree", "installed")
DIST_PACKAGES = "/usr/lib/python3/dist-packages"


def agents_mode(requested: str | None) -> str:
    mode = requested or os.environ.get("ZFSHA_TEST_AGENTS") or "tree"
    if mode not in AGENT_MODES:
        raise ValueError(f"agents must be one of {AGENT_MODES}, not {mode!r}")
    return mode


def tree_mounts(repo: Path) -> list[dict]:
    for path in (repo / "agents", repo / "fence", repo / "lib"):
        # overlayfs splits lowerdir on ':' and mount options on ','.
        if ":" in str(path) or "," in str(path):
            raise ValueError(f"cannot overlay a path holding ':' or ',': {path}")
    return [
        {"type": "bind", "src": str(repo / "agents"), "dst": str(OCF_PROVIDER_DIR), "ro": True},
        {"type": "overlay", "lower": [str(repo / "fence"), "/usr/sbin"], "dst": "/usr/sbin"},
        # pcs runs crm_resource with a clean environment (no PYTHONPATH), so the tree's library must
        # also be where the distro interpreter finds it.
        {"type": "overlay", "lower": [str(repo / "lib"), DIST_PACKAGES], "dst": DIST_PACKAGES},
    ]


def tree_python_env(repo: Path, pythonpath: str | None) -> dict[str, str]:
    """The tree's library first on PYTHONPATH; no root-owned __pycache__ left in the checkout."""
    lib = str(repo / "lib")
    return {
        "PYTHONPATH": f"{lib}:{pythonpath}" if pythonpath else lib,
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def run_with_tree(
    argv: list[str],
    *,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float | None = 120.0,
    agents: str | None = None,
    repo: Path = REPO_ROOT,
) -> subprocess.CompletedProcess[str]:
    """Run a one-off host command (crm_resource --force-start, pcs resource describe, ...) with no
    cluster, seeing the agents under test at the standard paths. The environment is clean: PATH,
    then `env`, then (tree mode) the tree's lib on PYTHONPATH."""
    mode = agents_mode(agents)
    full_env = {"PATH": DAEMON_PATH, **(env or {})}
    if mode == "installed":
        return subprocess.run(list(argv), env=full_env, input=input, capture_output=True, text=True, timeout=timeout, cwd="/")
    full_env.update(tree_python_env(repo, full_env.get("PYTHONPATH")))
    return run_with_mounts(argv, tree_mounts(repo), env=full_env, input=input, timeout=timeout)


def run_with_mounts(
    argv: list[str],
    mounts: list[dict],
    *,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float | None = 120.0,
) -> subprocess.CompletedProcess[str]:
    """Run argv in a private mount namespace where `mounts` (boot.py's mount specs) are laid over the
    host's paths, e.g. the working tree's or an unpacked package's agents over the standard ones."""
    ensure_provider_dir()
    specs = [{"type": "mask", "dst": "/proc/sysrq-trigger"}, *mounts]
    command = ["unshare", "--mount", "--propagation", "private", "--", PYTHON, str(BOOT_SCRIPT), "exec", json.dumps(specs), *argv]
    return subprocess.run(
        command, env={"PATH": DAEMON_PATH, **(env or {})}, input=input, capture_output=True, text=True, timeout=timeout, cwd="/"
    )


def package_mounts(root: Path) -> list[dict]:
    """boot.py mount specs putting an unpacked package (dpkg-deb -x) where it would be installed."""
    return [
        {"type": "bind", "src": str(root / OCF_PROVIDER_DIR.relative_to("/")), "dst": str(OCF_PROVIDER_DIR), "ro": True},
        {"type": "overlay", "lower": [str(root / "usr/sbin"), "/usr/sbin"], "dst": "/usr/sbin"},
        {"type": "overlay", "lower": [str(root / DIST_PACKAGES.lstrip("/")), DIST_PACKAGES], "dst": DIST_PACKAGES},
    ]


def run_over_package(root: Path, argv: list[str], timeout: float | None = 120.0) -> subprocess.CompletedProcess[str]:
    """Run argv seeing an unpacked package's agents and library at the standard paths."""
    # overlayfs splits lowerdir on ':' and mount options on ','.
    if ":" in str(root) or "," in str(root):
        raise ValueError(f"cannot overlay a path holding ':' or ',': {root}")
    return run_with_mounts(argv, package_mounts(root), timeout=timeout)


def ensure_provider_dir() -> None:
    """Bind mounts need a mountpoint; made on the host only when missing (the .deb owns it)."""
    if not OCF_PROVIDER_DIR.exists():
        OCF_PROVIDER_DIR.mkdir(parents=True)
