"""The three-guest lab of the main architecture (seed 004): storage-a, storage-b and quorum.

storage-a and storage-b carry small data disks and sit on the storage and the cluster segments;
quorum (which is also the client) sits on both too, so it can log in to targets as a client would.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from lab.vm.guest import BridgeNic, Guest, HostNic, Identity, Nic, Segment
from lab.vm.image import Image
from lab.vm.netns import LabNetns

STORAGE_NET = "169.254.210"
CLUSTER_NET = "169.254.211"
# The lab's service bridge (bridge_nic=True): the lab's services at .2, guest N at .1N.
SERVICE_NET = "169.254.214"
SERVICE_ADDRESS = f"{SERVICE_NET}.2"
HOST_NUMBERS = {"storage-a": 1, "storage-b": 2, "quorum": 3}
DEFAULT_WORKDIR = Path(__file__).resolve().parent / "work"
REPO = Path(__file__).resolve().parents[2]


def package_under_test(make: bool = True) -> Path:
    """build/zfsha_<version>_all.deb as `make deb` builds it from this tree (the version from setup.cfg).

    make=False trusts a package built just before (make lab-check does); otherwise make builds it, a
    no-op when the package is newer than every file of the tree.
    """
    version = configparser.ConfigParser()
    version.read(REPO / "setup.cfg")
    deb = REPO / "build" / f"zfsha_{version.get('metadata', 'version')}_all.deb"
    if make:
        subprocess.run(["make", "-s", "-C", str(REPO), "deb"], check=True, stdout=subprocess.DEVNULL)
    if not deb.exists():
        raise FileNotFoundError(f"{deb} is missing: run make deb")
    return deb


def default_base_port() -> int:
    """Multicast port pair for this lab; distinct per process so concurrent labs never share a segment."""
    configured = os.environ.get("LAB_VM_MCAST_PORT")
    return int(configured) if configured else 20000 + (os.getpid() % 5000) * 2


class Lab:
    """Three guests, two segments; start/stop them together and copy files into all of them."""

    def __init__(
        self,
        image: Image,
        workdir: Path | None = None,
        base_port: int | None = None,
        data_disks: int = 2,
        disk_mib: int = 256,
        mem: int = 2048,
        host_nic: bool = False,
        bridge_nic: bool = False,
    ) -> None:
        """host_nic adds a user-mode NIC per guest through which host loopback services are reachable.

        bridge_nic runs the guests in a network namespace of the lab's own (`self.netns`, removed by
        remove/dispose) and gives each a NIC on its bridge, where services the lab starts inside
        that namespace listen at SERVICE_ADDRESS (see lab.vm.netns). The two exclude each other:
        user-mode networking inside the namespace would reach its loopback, not the host's.
        """
        if host_nic and bridge_nic:
            raise ValueError("host_nic and bridge_nic exclude each other")
        self.image = image
        root = Path(workdir) if workdir else DEFAULT_WORKDIR
        root.mkdir(parents=True, exist_ok=True)
        self.workdir = Path(tempfile.mkdtemp(prefix="lab-", dir=root))
        self.netns = LabNetns(f"{SERVICE_ADDRESS}/24") if bridge_nic else None
        try:
            self._define_guests(image, base_port, data_disks, disk_mib, mem, host_nic)
        except BaseException:
            self._close_netns()
            raise

    def _define_guests(
        self, image: Image, base_port: int | None, data_disks: int, disk_mib: int, mem: int, host_nic: bool
    ) -> None:
        port = base_port or default_base_port()
        self.storage_segment = Segment(port)
        self.cluster_segment = Segment(port + 1)
        hosts = {name: f"{CLUSTER_NET}.{number}" for name, number in HOST_NUMBERS.items()}
        hosts.update({f"{name}-storage": f"{STORAGE_NET}.{number}" for name, number in HOST_NUMBERS.items()})
        self.guests: dict[str, Guest] = {}
        for name, number in HOST_NUMBERS.items():
            disks = [(f"{name}-d{i}", disk_mib) for i in range(data_disks)] if name != "quorum" else []
            nets: list[Nic | HostNic | BridgeNic] = [
                Nic(self.storage_segment, f"{STORAGE_NET}.{number}/24"),
                Nic(self.cluster_segment, f"{CLUSTER_NET}.{number}/24"),
            ]
            if host_nic:
                nets.append(HostNic())
            if self.netns is not None:
                nets.append(BridgeNic(self.netns.add_tap(f"tap-{name}"), f"{SERVICE_NET}.1{number}/24"))
            self.guests[name] = Guest(
                name,
                image,
                self.workdir,
                mem=mem,
                data_disks=disks,
                nets=nets,
                kernel_cmdline_identity=Identity.for_name(name, hosts),
                netns=self.netns,
            )

    def __getitem__(self, name: str) -> Guest:
        return self.guests[name]

    @staticmethod
    def storage_address(name: str) -> str:
        return f"{STORAGE_NET}.{HOST_NUMBERS[name]}"

    @staticmethod
    def cluster_address(name: str) -> str:
        return f"{CLUSTER_NET}.{HOST_NUMBERS[name]}"

    def start(self, names: Iterable[str] | None = None, timeout: float = 300.0) -> dict[str, float]:
        """Boot the named guests (all by default) in parallel; returns seconds until each was ready."""
        chosen = [self.guests[name] for name in (names or self.guests)]
        for guest in chosen:
            guest.start()
        return self._parallel(chosen, lambda guest: guest.wait_ready(timeout))

    def stop(self) -> None:
        """Hard power cut for every guest: the lab's disks are disposable, so no clean shutdown is owed."""
        for guest in self.guests.values():
            guest.kill()

    def remove(self) -> None:
        self.stop()
        self._close_netns()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def dispose(self) -> None:
        """End of a run: remove the lab, or with LAB_VM_KEEP=1 power it off and keep its work directory."""
        if os.environ.get("LAB_VM_KEEP"):
            self.stop()
            self._close_netns()
            print(f"lab work directory kept: {self.workdir}")
        else:
            self.remove()

    def _close_netns(self) -> None:
        """After stop: nothing of the lab runs in its namespace any more, so the kernel removes it."""
        if self.netns is not None:
            self.netns.close()

    def install_deb(self, deb: Path, names: Iterable[str] | None = None) -> None:
        """Copy a .deb into the named running guests (all running by default) and dpkg -i it there.

        The guests have no route to a mirror, so the package's dependencies must already be in the image.
        """
        payload = Path(deb).read_bytes()
        target = f"/root/{Path(deb).name}"
        chosen = [self.guests[name] for name in names] if names else [g for g in self.guests.values() if g.running]

        def install(guest: Guest) -> float:
            guest.write_file(target, payload)
            guest.exec(["dpkg", "-i", target], timeout=300, check=True)
            return 0.0

        self._parallel(chosen, install)

    @staticmethod
    def _parallel(guests: list[Guest], action: Callable[[Guest], float]) -> dict[str, float]:
        results: dict[str, float] = {}
        errors: list[BaseException] = []

        def run(guest: Guest) -> None:
            try:
                results[guest.name] = action(guest)
            except BaseException as error:  # reported below with the guest's name
                errors.append(error)

        threads = [threading.Thread(target=run, args=(guest,)) for guest in guests]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return results

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()
