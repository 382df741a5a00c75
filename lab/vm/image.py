"""The guest base image: Debian bookworm with the kernel, ZFS (dkms), LIO, open-iscsi and Pacemaker.

Built from nothing with debootstrap, cached under a key derived from everything that shapes it: the
package list, the build code, the files copied into the guest and the package versions the mirror
resolves today. A new kernel or ZFS upload therefore produces a new image instead of a stale hit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SUITE = "bookworm"
COMPONENTS = ("main", "contrib")
HERE = Path(__file__).resolve().parent
GUEST_FILES = HERE / "guest_files"
GUEST_SETUP = HERE / "guest_setup.sh"
DEFAULT_CACHE = HERE / "cache"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# Bump when a change to this module changes what the built image contains.
IMAGE_LAYOUT = 1

# Installed after the kernel and ZFS, in one apt transaction. pacemaker-cli-utils is named because
# --no-install-recommends would otherwise drop crm_mon.
STACK_PACKAGES = (
    "targetcli-fb",
    "python3-rtslib-fb",
    "open-iscsi",
    "pacemaker",
    "pacemaker-cli-utils",
    "corosync",
    "pcs",
    "resource-agents",
    "fence-agents",
    "qemu-guest-agent",
    "python3-lxml",
    "python3-requests",
    "python3-pyghmi",
    "python3-pexpect",
    "ipmitool",
    "lsscsi",
    "procps",
    "iproute2",
    "kmod",
)
# Whose versions go into the cache key (the ones that decide what the lab proves).
KEY_PACKAGES = ("linux-image-amd64", "linux-headers-amd64", "zfs-dkms", "zfsutils-linux", *STACK_PACKAGES)

# Host command -> Debian package that provides it.
HOST_TOOLS = {
    "debootstrap": "debootstrap",
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-img": "qemu-utils",
    "mkfs.ext4": "e2fsprogs",
}


@dataclass(frozen=True)
class Image:
    """A built base image: boot it with direct kernel boot and root=LABEL=root."""

    directory: Path
    disk: Path
    kernel: Path
    initrd: Path
    guest_kernel: str

    @classmethod
    def load(cls, directory: Path) -> Image:
        manifest = json.loads((directory / "manifest.json").read_text())
        return cls(directory, directory / "base.qcow2", directory / "vmlinuz", directory / "initrd.img", manifest["guest_kernel"])


def log(message: str) -> None:
    print(f"[lab.vm {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ensure_host_tools() -> None:
    """apt-get install the host tools the lab needs, only those that are missing."""
    missing = sorted(
        {package for tool, package in HOST_TOOLS.items() if not shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin")}
    )
    if missing:
        log(f"installing host tools: {' '.join(missing)}")
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", *missing],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The host's Debian mirror for the bookworm suite, read from its apt sources (deb822 or one-line)."""
    candidates: list[str] = []
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields = _deb822_fields(stanza)
            if fields.get("enabled", "yes").lower() == "no" or "deb" not in fields.get("types", "").split():
                continue
            if SUITE in fields.get("suites", "").split():
                candidates += fields.get("uris", "").split()
    list_files = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in list_files:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                candidates.append(words[1])
    if not candidates:
        raise RuntimeError(f"no '{SUITE}' Debian source in {apt_dir}; cannot pick a mirror")
    return candidates[0].rstrip("/")


def _deb822_fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key = None
    for line in stanza.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line[0] in " \t" and key:
            fields[key] += " " + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            fields[key] = value.strip()
    return fields


def resolve_versions(mirror: str, state_dir: Path) -> dict[str, str]:
    """Versions the mirror offers for KEY_PACKAGES, via apt with a private state directory."""
    state_dir = state_dir.resolve()
    (state_dir / "sources.list.d").mkdir(parents=True, exist_ok=True)
    (state_dir / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (state_dir / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (state_dir / "status").touch()
    sources = state_dir / "sources.list"
    sources.write_text(f"deb [signed-by={KEYRING}] {mirror} {SUITE} {' '.join(COMPONENTS)}\n")
    options = [
        f"-oDir::Etc::SourceList={sources}",
        f"-oDir::Etc::SourceParts={state_dir / 'sources.list.d'}",
        f"-oDir::State::Lists={state_dir / 'lists'}",
        f"-oDir::Cache={state_dir / 'cache'}",
        f"-oDir::State::status={state_dir / 'status'}",
        "-oAPT::Architecture=amd64",
        "-oDebug::NoLocking=1",
    ]
    subprocess.run(["apt-get", *options, "-qq", "update"], check=True, stdout=subprocess.DEVNULL)
    shown = subprocess.run(
        ["apt-cache", *options, "show", "--no-all-versions", *KEY_PACKAGES], check=True, capture_output=True, text=True
    ).stdout
    versions: dict[str, str] = {}
    for stanza in shown.split("\n\n"):
        fields = _deb822_fields(stanza)
        if "package" in fields:
            versions[fields["package"]] = fields.get("version", "")
            if fields["package"] == "linux-image-amd64":
                versions["kernel-abi"] = fields.get("depends", "").split()[0]
    return versions


def build_inputs_digest() -> str:
    """Hash of the chroot build script and every file copied into the guest.

    This module's own code is left out so that refactoring it does not cost a rebuild; a change here
    that alters the image bumps IMAGE_LAYOUT instead.
    """
    digest = hashlib.sha256(f"layout {IMAGE_LAYOUT}".encode())
    for path in sorted([GUEST_SETUP, *GUEST_FILES.rglob("*")]):
        if path.is_file():
            digest.update(str(path.relative_to(HERE)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def image_key(versions: dict[str, str]) -> str:
    payload = json.dumps(
        {
            "suite": SUITE,
            "components": COMPONENTS,
            "stack": STACK_PACKAGES,
            "inputs": build_inputs_digest(),
            "versions": versions,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def ensure_image(cache_dir: Path | None = None, force: bool = False) -> Image:
    """Return a cached image for today's inputs, building it from nothing when there is none."""
    cache_dir = Path(cache_dir or os.environ.get("LAB_VM_CACHE") or DEFAULT_CACHE).resolve()
    cache_dir.mkdir(parents=True, exist_ok=True)
    ensure_host_tools()
    mirror = debian_mirror()
    try:
        versions = resolve_versions(mirror, cache_dir / "apt-state")
    except subprocess.CalledProcessError:
        # Mirror unreachable: the newest image built from the same code is the best there is.
        fallback = _newest_image(cache_dir, build_inputs_digest())
        if fallback and not force:
            log(f"mirror unreachable; reusing {fallback.directory}")
            return fallback
        raise
    key = image_key(versions)
    directory = cache_dir / f"{SUITE}-{key}"
    if (directory / "manifest.json").is_file() and not force:
        log(f"reusing image {directory}")
        return Image.load(directory)
    build_image(directory, mirror, versions)
    for stale in cache_dir.glob(f"{SUITE}-*"):
        # One image is what a CI cache should carry; older ones only cost space.
        if stale != directory and (stale / "manifest.json").is_file():
            shutil.rmtree(stale, ignore_errors=True)
    return Image.load(directory)


def _newest_image(cache_dir: Path, inputs: str) -> Image | None:
    manifests = [m for m in cache_dir.glob(f"{SUITE}-*/manifest.json") if json.loads(m.read_text()).get("inputs") == inputs]
    if not manifests:
        return None
    return Image.load(max(manifests, key=lambda m: m.stat().st_mtime).parent)


def build_image(directory: Path, mirror: str, versions: dict[str, str]) -> None:
    """debootstrap, provision in a chroot, then pack the root into an ext4 qcow2 plus kernel and initrd."""
    started = time.monotonic()
    timings: dict[str, float] = {}
    scratch = Path(tempfile.mkdtemp(prefix=f".build-{directory.name}-", dir=directory.parent))
    try:
        rootfs = scratch / "rootfs"
        step = time.monotonic()
        log(f"debootstrap {SUITE} from {mirror}")
        subprocess.run(
            ["debootstrap", f"--components={','.join(COMPONENTS)}", f"--keyring={KEYRING}", SUITE, str(rootfs), mirror],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        timings["debootstrap"] = time.monotonic() - step
        (rootfs / "etc/apt/sources.list").write_text(f"deb {mirror} {SUITE} {' '.join(COMPONENTS)}\n")
        shutil.copytree(GUEST_FILES, rootfs, dirs_exist_ok=True, symlinks=True)
        shutil.copy2(GUEST_SETUP, rootfs / "root/guest_setup.sh")
        step = time.monotonic()
        with _chroot_mounts(rootfs):
            subprocess.run(
                ["chroot", str(rootfs), "/bin/sh", "/root/guest_setup.sh", *STACK_PACKAGES],
                check=True,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"},
            )
        timings["chroot-provision"] = time.monotonic() - step
        (rootfs / "root/guest_setup.sh").unlink()
        (rootfs / "usr/sbin/policy-rc.d").unlink()
        guest_kernel = (rootfs / "etc/lab-guest-kernel").read_text().strip()
        step = time.monotonic()
        shutil.copy2(rootfs / f"boot/vmlinuz-{guest_kernel}", scratch / "vmlinuz")
        shutil.copy2(rootfs / f"boot/initrd.img-{guest_kernel}", scratch / "initrd.img")
        raw = scratch / "base.raw"
        used_mib = _tree_mib(rootfs)
        size_mib = used_mib + max(1024, used_mib // 2)
        subprocess.run(["mkfs.ext4", "-q", "-L", "root", "-d", str(rootfs), str(raw), f"{size_mib}M"], check=True)
        subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(scratch / "base.qcow2")], check=True)
        raw.unlink()
        timings["pack"] = time.monotonic() - step
        shutil.copy2(rootfs / "etc/lab-packages.txt", scratch / "packages.txt")
        shutil.rmtree(rootfs)
        timings["total"] = time.monotonic() - started
        manifest = {
            "guest_kernel": guest_kernel,
            "mirror": mirror,
            "versions": versions,
            "inputs": build_inputs_digest(),
            "root_mib": used_mib,
            "filesystem_mib": size_mib,
            "seconds": {k: round(v, 1) for k, v in timings.items()},
            "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (scratch / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if directory.exists():
            shutil.rmtree(directory)
        scratch.rename(directory)
        log(f"image ready in {timings['total']:.0f} s: {directory} {json.dumps(manifest['seconds'])}")
    finally:
        if scratch.exists():
            _unmount_below(scratch / "rootfs")
            shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def _chroot_mounts(rootfs: Path) -> Iterator[None]:
    """policy-rc.d that refuses service starts, /proc /sys /dev bound in; always unmounted after."""
    policy = rootfs / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    shutil.copy2("/etc/resolv.conf", rootfs / "etc/resolv.conf")
    try:
        for source, target in (("/proc", "proc"), ("/sys", "sys"), ("/dev", "dev"), ("/dev/pts", "dev/pts")):
            subprocess.run(["mount", "--bind", source, str(rootfs / target)], check=True)
            subprocess.run(["mount", "--make-rslave", str(rootfs / target)], check=True)
        yield
    finally:
        _unmount_below(rootfs)


def _unmount_below(rootfs: Path) -> None:
    """Unmount everything mounted under rootfs, deepest first; lazily if something still holds it."""
    prefix = str(rootfs.resolve()) + "/"
    with open("/proc/self/mountinfo") as mountinfo:
        points = [line.split()[4] for line in mountinfo]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        if subprocess.run(["umount", point], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", point], capture_output=True)


def _tree_mib(root: Path) -> int:
    used = subprocess.run(["du", "-sxm", str(root)], check=True, capture_output=True, text=True).stdout
    return int(used.split()[0])
