"""A network namespace owned by the lab: the guests' segments and a bridge for the lab's own services.

Why: the fence devices' protocol peers (BMC, smart plug) must be reachable from inside the guests.
qemu's user-mode networking forwarded the guests' UDP to the host's loopback, and dropped some of
it under load (fence_ipmi: "no answer within 5 s" while the BMC received nothing). Here the guests'
qemu run in a namespace of the lab's own, each with a tap on one Linux bridge whose address the
peers listen on: kernel forwarding only, nothing in between that the lab does not control.

The namespace has no name in /run/netns and no link to the host's namespace: it is created by a
short-lived thread's unshare(CLONE_NEWNET) and held by one file descriptor of this process. It
vanishes once that descriptor is closed (`close`, or this process dying in any way) and the
processes started inside it have exited (qemu has PDEATHSIG, the BMC child exits when its stdin
closes). Inside it, the loopback carries the guests' socket-multicast segments (qemu's
`localaddr=127.0.0.1`), private to the lab.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

CLONE_NEWNET = 0x40000000
BRIDGE = "labbr0"
Result = TypeVar("Result")

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"setns(CLONE_NEWNET): {os.strerror(error)}")


def _unshare_net() -> None:
    if _libc.unshare(CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"unshare(CLONE_NEWNET): {os.strerror(error)}")


class LabNetns:
    """The lab's network namespace: loopback up, one bridge at `bridge_address`, taps added per guest."""

    def __init__(self, bridge_address: str) -> None:
        """bridge_address: "169.254.214.2/24", the address the lab's services listen on."""
        self.bridge_address = bridge_address
        self.fd: int | None = None
        self.taps: list[str] = []
        self._create()
        try:
            self.run(["ip", "link", "set", "lo", "up"])
            self.run(["ip", "link", "add", BRIDGE, "type", "bridge", "stp_state", "0", "forward_delay", "0"])
            self.run(["ip", "address", "add", bridge_address, "dev", BRIDGE])
            self.run(["ip", "link", "set", BRIDGE, "up"])
        except BaseException:
            self.close()
            raise

    @property
    def address(self) -> str:
        return self.bridge_address.split("/")[0]

    def _create(self) -> None:
        def create() -> int:
            _unshare_net()  # this thread only; it ends right after
            return os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

        host = os.stat("/proc/thread-self/ns/net").st_ino
        self.fd = self._in_thread(create)
        if os.fstat(self.fd).st_ino == host:
            os.close(self.fd)
            self.fd = None
            raise RuntimeError("unshare(CLONE_NEWNET) left the thread in the host's namespace")

    def enter(self) -> None:
        """Move the calling thread (or a child between fork and exec: a preexec_fn) into the namespace."""
        if self.fd is None:
            raise RuntimeError("the lab's network namespace is closed")
        _setns(self.fd)

    def preexec(self, then: Callable[[], None] | None = None) -> Callable[[], None]:
        """A preexec_fn that enters the namespace, then runs `then` (e.g. the parent-death signal)."""

        def run() -> None:
            self.enter()
            if then is not None:
                then()

        return run

    def call(self, function: Callable[[], Result]) -> Result:
        """Run function on a thread inside the namespace and return its result.

        Sockets it creates belong to the namespace, and so do processes and threads it starts
        (a child inherits the namespace of the thread that forked it): that is how the lab's
        peers come to listen on the bridge.
        """

        def inside() -> Result:
            self.enter()
            return function()

        return self._in_thread(inside)

    def run(self, argv: Sequence[str], timeout: float = 30.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace (ip, ipmitool ...)."""
        return subprocess.run(list(argv), preexec_fn=self.preexec(), capture_output=True, text=True, timeout=timeout, check=check)

    def add_tap(self, name: str) -> str:
        """A persistent tap on the bridge, opened by a guest's qemu (`-netdev tap,ifname=NAME`).

        Persistent, so a guest switched off and on again by its power device finds it still on
        the bridge.
        """
        self.run(["ip", "tuntap", "add", "dev", name, "mode", "tap"])
        self.run(["ip", "link", "set", name, "master", BRIDGE])
        self.run(["ip", "link", "set", name, "up"])
        self.taps.append(name)
        return name

    def close(self) -> None:
        """Let the namespace go: the kernel removes it, its bridge and taps once nothing runs in it."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    @staticmethod
    def _in_thread(function: Callable[[], Result]) -> Result:
        outcome: list[Result] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                outcome.append(function())
            except BaseException as error:  # re-raised in the caller's thread
                errors.append(error)

        thread = threading.Thread(target=run, name="lab-netns")
        thread.start()
        thread.join()
        if errors:
            raise errors[0]
        return outcome[0]
