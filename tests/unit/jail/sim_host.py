"""A simulated FreeBSD host with the seed-000 NFS jail on it, and a way to run the agent against it."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.conformance_profiles import repo_root
from tests.sim.freebsd.state import Host

SIM_BIN = repo_root() / "tests" / "sim" / "freebsd" / "bin"
AGENT = repo_root() / "agents" / "fbsd-jail-nfs"
SERVICE_IP = "169.254.213.4"

JAIL_CONF = """\
iscsinfs {{
    path = "{root}";
    host.hostname = "$name.example.com";
    vnet;
    devfs_ruleset = 5;
    mount.devfs;
    persist;
    allow.nfsd;
    allow.mount;
    allow.mount.zfs;
    enforce_statfs = 1;
}}
"""

RC_CONF = f"""\
hostname="iscsinfs.example.com"
ifconfig_nfs0="up"
ipv4_addrs_nfs0="{SERVICE_IP}/24"
zfs_enable="YES"
nfs_server_enable="YES"
nfsv4_server_enable="YES"
nfs_server_flags="-t"
"""

EXPORTS = "/export/nfs1 -alldirs -sec=sys\nV4: /export -sec=sys\n"


@dataclass
class SimHost:
    base: Path
    root: Path
    conf: Path

    @property
    def host(self) -> Host:
        return Host(self.base)

    def env(self) -> dict[str, str]:
        return {"ZFSHA_TOOL_PATH": str(SIM_BIN), "ZFSHA_SIM_STATE": str(self.base)}

    def params(self, **overrides: str) -> dict[str, str]:
        params = {
            "jail": "iscsinfs",
            "config": str(self.conf),
            "datasets": "data1/nfs1",
            "interface": "nfs0",
            "service_ip": SERVICE_IP,
            "nfs_versions": "3 4",
        }
        params.update(overrides)
        return params


def build(workdir: Path, conf_text: str = JAIL_CONF) -> SimHost:
    """The host of seed 000 after the pool agent imported data1: jail root mounted, nfsd loaded."""
    base = workdir / "sim"
    root = workdir / "jail" / "iscsinfs"
    (root / "etc").mkdir(parents=True)
    (root / "export" / "nfs1").mkdir(parents=True)
    (root / "etc" / "rc.conf").write_text(RC_CONF)
    (root / "etc" / "exports").write_text(EXPORTS)
    conf = workdir / "jail.conf"
    conf.write_text(conf_text.format(root=root))
    host = Host(base)
    host.add_interface("nfs0")
    host.load_module("nfsd")
    host.add_dataset("data1/nfs1", "/export/nfs1")
    host.add_mount("data1/jail/iscsinfs", str(root))
    return SimHost(base, root, conf)


def run_agent(
    action: str,
    params: Mapping[str, str],
    env: Mapping[str, str],
    depth: int = 0,
    interval_ms: int = 0,
    timeout_ms: int = 30000,
) -> subprocess.CompletedProcess[str]:
    environ = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(repo_root() / "lib"),
        "HA_LOGFACILITY": "none",
        "OCF_ROOT": "/usr/lib/ocf",
        "OCF_RESOURCE_INSTANCE": "nfsjail",
        "OCF_CHECK_LEVEL": str(depth),
        "OCF_RESKEY_CRM_meta_interval": str(interval_ms),
        "OCF_RESKEY_CRM_meta_timeout": str(timeout_ms),
        **{f"OCF_RESKEY_{k}": v for k, v in params.items()},
        **env,
    }
    return subprocess.run(["/usr/bin/python3", str(AGENT), action], env=environ, capture_output=True, text=True, timeout=120)


def exit_reason(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.startswith("ocf-exit-reason:")]
    return lines[-1].removeprefix("ocf-exit-reason:") if lines else ""
