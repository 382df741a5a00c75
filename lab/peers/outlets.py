"""Outlet power state and the hooks that make a switch act on a lab node."""

from __future__ import annotations

import queue
import shlex
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass


@dataclass
class Outlet:
    """One switchable outlet; hooks are argv templates with {outlet} and {state} fields."""

    name: str
    on: bool = True
    on_hook: Sequence[str] | None = None
    off_hook: Sequence[str] | None = None


@dataclass(frozen=True)
class HookRun:
    """What one hook run did, kept so tests and logs can see the power really moved."""

    outlet: str
    state: str
    argv: tuple[str, ...]
    returncode: int


@dataclass(frozen=True)
class _Switch:
    outlet: Outlet
    on: bool


class PowerBoard:
    """The outlets of one emulated device.

    State changes at once, as a relay does; the hook runs afterwards on one worker thread,
    in order, so a slow power-on hook (a node booting) never delays the device's reply and
    an off followed by an on reaches the node in that order.
    """

    def __init__(self, outlets: Iterable[Outlet], on_change: Callable[[str, bool], None] | None = None) -> None:
        """on_change(name, on) is called synchronously for every change, before set() returns."""
        self._on_change = on_change
        self._outlets = {outlet.name: outlet for outlet in outlets}
        if not self._outlets:
            raise ValueError("a power device needs at least one outlet")
        self._lock = threading.Lock()
        self._pending: queue.Queue[_Switch | threading.Event | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self.hook_runs: list[HookRun] = []

    @property
    def names(self) -> list[str]:
        return list(self._outlets)

    def __contains__(self, name: object) -> bool:
        return name in self._outlets

    def outlet(self, name: str) -> Outlet:
        return self._outlets[name]

    def is_on(self, name: str) -> bool:
        with self._lock:
            return self._outlets[name].on

    def snapshot(self) -> dict[str, bool]:
        with self._lock:
            return {name: outlet.on for name, outlet in self._outlets.items()}

    def set(self, name: str, on: bool) -> bool:
        """Switch an outlet; returns the state it had before. Hooks fire on real changes only."""
        with self._lock:
            outlet = self._outlets[name]
            was_on = outlet.on
            outlet.on = on
        if was_on != on:
            self._changed(outlet, on)
        return was_on

    def toggle(self, name: str) -> bool:
        """Flip an outlet; returns the new state."""
        with self._lock:
            outlet = self._outlets[name]
            outlet.on = not outlet.on
            now_on = outlet.on
        self._changed(outlet, now_on)
        return now_on

    def cycle(self, name: str) -> None:
        """Off then on again, with both hooks, as a BMC power cycle does."""
        with self._lock:
            outlet = self._outlets[name]
            outlet.on = True
        self._changed(outlet, False)
        self._changed(outlet, True)

    def wait_hooks(self, timeout: float = 30.0) -> bool:
        """Block until every hook queued so far has run; False on timeout."""
        drained = threading.Event()
        self._ensure_worker()
        self._pending.put(drained)
        return drained.wait(timeout)

    def close(self) -> None:
        if self._worker is not None:
            self._pending.put(None)
            self._worker.join(timeout=60)
            self._worker = None

    def _changed(self, outlet: Outlet, on: bool) -> None:
        if self._on_change is not None:
            self._on_change(outlet.name, on)
        self._queue_hook(outlet, on)

    def _queue_hook(self, outlet: Outlet, on: bool) -> None:
        if (outlet.on_hook if on else outlet.off_hook) is None:
            return
        self._ensure_worker()
        self._pending.put(_Switch(outlet, on))

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run_hooks, name="power-hooks", daemon=True)
                self._worker.start()

    def _run_hooks(self) -> None:
        while True:
            item = self._pending.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
            else:
                self._run_hook(item.outlet, item.on)

    def _run_hook(self, outlet: Outlet, on: bool) -> None:
        template = outlet.on_hook if on else outlet.off_hook
        if template is None:
            return
        state = "on" if on else "off"
        argv = tuple(part.format(outlet=outlet.name, state=state) for part in template)
        try:
            returncode = subprocess.run(argv, stdin=subprocess.DEVNULL, check=False).returncode
        except OSError as error:
            print(f"power hook {shlex.join(argv)} failed: {error}", file=sys.stderr, flush=True)
            returncode = 127
        if returncode != 0:
            print(f"power hook {shlex.join(argv)} exited {returncode}", file=sys.stderr, flush=True)
        self.hook_runs.append(HookRun(outlet.name, state, argv, returncode))
