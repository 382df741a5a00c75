"""The lab's power switch: outlet changes become guest power, and a held guest stays off (its POST)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from lab.vm.cluster import PowerSwitch


class FakeGuest:
    """Records what the power thread did to it, and on which thread."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.changed = threading.Event()

    def power_on(self) -> None:
        self.events.append(("on", threading.current_thread().name))
        self.changed.set()

    def kill(self) -> None:
        self.events.append(("off", threading.current_thread().name))
        self.changed.set()


@pytest.fixture
def switch() -> Iterator[PowerSwitch]:
    """A switch over storage-b and a marker guest that settle() switches to see the queue drained."""
    power = PowerSwitch({"storage-b": FakeGuest(), "marker": FakeGuest()})  # type: ignore[dict-item]
    yield power
    power.close()


def settle(switch: PowerSwitch) -> None:
    """Wait until the power thread has handled everything queued so far (it works in order)."""
    marker = switch.guests["marker"]
    marker.changed.clear()  # type: ignore[attr-defined]
    switch.hook("marker")("chassis", False)
    assert marker.changed.wait(10)  # type: ignore[attr-defined]


def test_a_held_guest_is_powered_on_only_when_released_and_on_the_power_thread(switch: PowerSwitch) -> None:
    guest, hook = switch.guests["storage-b"], switch.hook("storage-b")
    switch.hold("storage-b")
    hook("chassis", False)
    hook("chassis", True)  # a fence's reboot: off, then on
    settle(switch)
    assert guest.events == [("off", "lab-power")]  # type: ignore[attr-defined]
    switch.release("storage-b")
    settle(switch)
    assert guest.events == [("off", "lab-power"), ("on", "lab-power")]  # type: ignore[attr-defined]
    hook("chassis", True)  # not held any more: at once
    settle(switch)
    assert [event for event, _ in guest.events] == ["off", "on", "on"]  # type: ignore[attr-defined]


def test_an_off_while_held_cancels_the_pending_power_on(switch: PowerSwitch) -> None:
    guest, hook = switch.guests["storage-b"], switch.hook("storage-b")
    switch.hold("storage-b")
    hook("chassis", True)
    hook("chassis", False)
    settle(switch)
    switch.release("storage-b")
    settle(switch)
    assert [event for event, _ in guest.events] == ["off"]  # type: ignore[attr-defined]
