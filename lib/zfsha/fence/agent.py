"""A fence agent in the fence-agents conventions, over any PowerDevice.

The framework owns options, the delay, the action semantics, retries and above all verification: `off`,
`on` and `reboot` succeed only once the device itself reports the new state. A driver only says how to
read and switch an outlet.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import NoReturn, TextIO

from zfsha import log as logs
from zfsha import secrets
from zfsha.errors import ConfigError, ZfshaError, one_line
from zfsha.fence.device import FenceError, PowerDevice
from zfsha.fence.options import (
    ACTIONS,
    STANDARD_OPTIONS,
    FenceOption,
    FenceOptions,
    parse_command_line,
    parse_stdin,
)
from zfsha.version import version as zfsha_version

EXIT_SUCCESS = 0
EXIT_FAILURE = 1
EXIT_STATUS_OFF = 2

log = logging.getLogger("zfsha.fence")

Connect = Callable[[FenceOptions], PowerDevice]
# An action only some devices offer (fence_ipmilan's `diag`): it gets the connected device and the
# options, prints its own result line and returns the exit status.
ExtraAction = Callable[[PowerDevice, FenceOptions], int]


class FenceAgent:
    """A fence agent: standard options plus its own, and how to reach its device."""

    def __init__(
        self,
        name: str,
        shortdesc: str,
        longdesc: str,
        options: Sequence[FenceOption],
        connect: Connect,
        *,
        defaults: Mapping[str, str] | None = None,
        lists_outlets: bool = False,
        cycles_power: bool = False,
        needs_ip: bool = True,
        needs_plug: bool = True,
        check: Callable[[FenceOptions], None] | None = None,
        vendor_url: str = "",
        extra_actions: Mapping[str, ExtraAction] | None = None,
    ) -> None:
        own = {option.name for option in options}
        standard = []
        for option in STANDARD_OPTIONS:
            if option.name in own:
                continue
            if defaults and option.name in defaults:
                option = _with_default(option, defaults[option.name])
            standard.append(option)
        self.name = name
        self.shortdesc = shortdesc
        self.longdesc = longdesc
        self.options: tuple[FenceOption, ...] = tuple(sorted([*standard, *options], key=lambda o: o.name))
        self.connect = connect
        self.lists_outlets = lists_outlets
        self.cycles_power = cycles_power
        self.needs_ip = needs_ip
        self.needs_plug = needs_plug
        self.check = check
        self.vendor_url = vendor_url
        self.extra_actions = dict(extra_actions or {})

    @property
    def actions(self) -> tuple[str, ...]:
        names = ["on", "off", "reboot", "status"]
        if self.lists_outlets:
            names += ["list", "list-status"]
        names += list(self.extra_actions)
        return (*names, "monitor", "metadata", "manpage", "validate-all")

    def metadata(self) -> str:
        from zfsha.fence.metadata import render

        return render(self)

    def main(self) -> NoReturn:
        exit_process(self.execute(sys.argv[1:], sys.stdin, os.environ))

    def execute(self, args: Sequence[str], stdin: TextIO | None, environ: Mapping[str, str]) -> int:
        """Run one invocation; returns the exit status fence-agents callers expect."""
        try:
            values = parse_command_line(args, self.options, self.name) if args else parse_stdin(stdin or (), self.options)
        except ConfigError as err:
            return _failed(err.reason)
        options = FenceOptions(self.options, values)
        action = {"meta-data": "metadata"}.get(options.action, options.action)
        if options.flag("help"):
            print(self.usage())
            return EXIT_SUCCESS
        if options.flag("version"):
            print(zfsha_version())
            return EXIT_SUCCESS
        if action == "metadata":
            print(self.metadata(), end="")
            return EXIT_SUCCESS
        if action == "manpage":
            from zfsha.fence.metadata import manpage

            print(manpage(self), end="")
            return EXIT_SUCCESS
        self._setup_logging(options, environ)
        try:
            self._check(options, action)
            if action == "validate-all":
                return EXIT_SUCCESS
            timeout = self._power_timeout(options, environ)
            if action in ("off", "reboot", *self.extra_actions):
                delay = options.seconds("delay")
                if delay:
                    log.info("delaying %s by %.0f s", action, delay)
                    time.sleep(delay)
            device = self.connect(options)
            try:
                return self._act(device, options, action, timeout)
            finally:
                device.close()
        except ZfshaError as err:
            return _failed(err.reason)
        except Exception as err:  # a bug or an unexpected library error: one line, no traceback
            log.debug("%s", secrets.redact(traceback.format_exc()))
            return _failed(f"{type(err).__name__}: {err}")

    def usage(self) -> str:
        lines = [f"Usage: {self.name} [options]", self.shortdesc, "Options:"]
        lines += [f"   {option.getopt:<40} {option.shortdesc}" for option in self.options]
        return "\n".join(lines)

    def _setup_logging(self, options: FenceOptions, environ: Mapping[str, str]) -> None:
        env = dict(environ)
        if options.flag("verbose"):
            env["HA_debug"] = "1"
        logs.setup(self.name, env, stderr_level=logging.WARNING)
        debug_file = options.text("debug_file")
        if debug_file:
            handler = logging.FileHandler(debug_file, encoding="utf-8")
            handler.setLevel(logging.DEBUG)
            handler.setFormatter(logging.Formatter(f"%(asctime)s {self.name}: %(levelname)s: %(message)s"))
            handler.addFilter(logs.RedactingFilter())
            logging.getLogger().addHandler(handler)
            logging.getLogger().setLevel(logging.DEBUG)

    def _check(self, options: FenceOptions, action: str) -> None:
        known = action in ACTIONS or action in self.extra_actions
        if not known or (action in ("list", "list-status") and not self.lists_outlets):
            raise ConfigError(f"unsupported action {action!r}; supported: {', '.join(self.actions)}")
        for option in self.options:
            if option.type == "second":
                options.seconds(option.name)
            elif option.type == "integer":
                options.integer(option.name)
            elif option.type == "boolean":
                options.flag(option.name)
            elif option.type == "select" and options.text(option.name) not in (None, *option.choices):
                raise ConfigError(
                    f"option {option.name} must be one of {', '.join(option.choices)}, got {options.text(option.name)!r}"
                )
        if self.needs_ip and not options.text("ip"):
            raise ConfigError("option ip (--ip) is required: the address of the fence device")
        if self.needs_plug and action in ("on", "off", "reboot", "status") and not options.plugs:
            raise ConfigError("option plug (--plug, or port from Pacemaker) is required for this action")
        if options.text("method") == "cycle" and not self.cycles_power:
            raise ConfigError(f"method cycle is not offered by {self.name}; use method onoff")
        script = options.text("password_script")
        if script and not options.text("password"):
            options._values["password"] = _password_from_script(script)
        if self.check is not None:
            self.check(options)

    @staticmethod
    def _power_timeout(options: FenceOptions, environ: Mapping[str, str]) -> float | None:
        """How long to wait for the device to confirm; None leaves it to Pacemaker's timeout."""
        disable = options.text("disable_timeout")
        if disable is None:
            disable = "1" if environ.get("PCMK_service") == "pacemaker-fenced" else "0"
        if disable.strip().lower() in ("1", "yes", "on", "true"):
            return None
        return options.seconds("power_timeout")

    def _act(self, device: PowerDevice, options: FenceOptions, action: str, timeout: float | None) -> int:
        if action in self.extra_actions:
            return self.extra_actions[action](device, options)
        plugs: list[str | None] = list(options.plugs) or [None]
        if action in ("list", "list-status"):
            return self._list(device, action)
        states = {plug: device.power_state(plug) for plug in plugs}
        if action == "monitor":
            log.debug("monitor: device answered, outlets %s", _describe(states))
            return EXIT_SUCCESS
        is_on = any(states.values())
        if action == "status":
            print(f"Status: {'ON' if is_on else 'OFF'}")
            return EXIT_SUCCESS if is_on else EXIT_STATUS_OFF
        if action == "on":
            if all(states.values()):
                print("Success: Already ON")
                return EXIT_SUCCESS
            self._switch(device, options, plugs, True, timeout, attempts=1 + (options.integer("retry_on") or 0))
            print("Success: Powered ON")
            return EXIT_SUCCESS
        if action == "off":
            if not is_on:
                print("Success: Already OFF")
                return EXIT_SUCCESS
            self._switch(device, options, plugs, False, timeout)
            print("Success: Powered OFF")
            return EXIT_SUCCESS
        return self._reboot(device, options, plugs, is_on, timeout)

    def _reboot(
        self, device: PowerDevice, options: FenceOptions, plugs: list[str | None], is_on: bool, timeout: float | None
    ) -> int:
        if options.text("method") == "cycle":
            for plug in plugs:
                device.power_cycle(plug)  # type: ignore[attr-defined]
            self._wait_for(device, options, plugs, True, timeout)
            print("Success: Rebooted")
            return EXIT_SUCCESS
        if is_on:
            self._switch(device, options, plugs, False, timeout)
        try:
            self._switch(device, options, plugs, True, timeout, attempts=max(1, options.integer("retry_on") or 0))
        except ZfshaError as err:
            # The node is verified off, which is what fencing needs; failing to power it back on is
            # the admin's to fix, not a reason to fence again.
            log.error("node fenced (verified off) but powering it back on failed: %s", err.reason)
        print("Success: Rebooted")
        return EXIT_SUCCESS

    def _switch(
        self,
        device: PowerDevice,
        options: FenceOptions,
        plugs: list[str | None],
        on: bool,
        timeout: float | None,
        attempts: int = 1,
    ) -> None:
        word = "ON" if on else "OFF"
        last: ZfshaError | None = None
        for attempt in range(1, attempts + 1):
            try:
                for plug in plugs:
                    log.info("switching %s %s", _plug_name(plug), word)
                    device.set_power(plug, on)
                wait = options.seconds("power_wait")
                if wait:
                    time.sleep(wait)
                self._wait_for(device, options, plugs, on, timeout)
                return
            except ZfshaError as err:
                last = err
                log.warning("attempt %d/%d to power %s failed: %s", attempt, attempts, word, err.reason)
        assert last is not None
        raise last

    def _wait_for(
        self, device: PowerDevice, options: FenceOptions, plugs: list[str | None], on: bool, timeout: float | None
    ) -> None:
        """Poll until every outlet reports the wanted state: only the device's word counts."""
        word = "ON" if on else "OFF"
        sleep = options.seconds("stonith_status_sleep") or 1.0
        started = time.monotonic()
        while True:
            problem = ""
            try:
                states = {plug: device.power_state(plug) for plug in plugs}
                if all(state == on for state in states.values()):
                    log.info("device reports %s %s", _describe(states), word)
                    return
                problem = f"device still reports {_describe(states)}"
            except ZfshaError as err:
                problem = err.reason
            if timeout is not None and time.monotonic() - started >= timeout:
                raise FenceError(f"timed out after {timeout:.0f}s waiting for power {word}: {problem}")
            log.debug("waiting for power %s: %s", word, problem)
            time.sleep(sleep)

    def _list(self, device: PowerDevice, action: str) -> int:
        outlets = device.list_outlets()  # type: ignore[attr-defined]
        for outlet, alias in outlets.items():
            if action == "list":
                print(f"{outlet},{alias}")
            else:
                state = device.power_state(outlet)
                print(f"{outlet},{alias},{'ON' if state else 'OFF'}")
        return EXIT_SUCCESS


def exit_process(status: int) -> NoReturn:
    """End the process as sys.exit would, without the interpreter's teardown.

    Freeing every module and object does nothing for a process that is about to end, and it is not
    free: once pyghmi has loaded cryptography (its OpenSSL and x509 bindings) it cost fence_ipmi
    20-40 ms against the lab BMC (sys.exit vs this), over a tenth of a status call the fencer awaits. What
    teardown does that matters is done here, in the interpreter's order: other non-daemon threads are
    joined, atexit callbacks run (logging's flushes and closes every handler, a debug_file included),
    stdout and stderr are flushed.
    """
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        status = 120  # what the interpreter exits with when it cannot flush stdout
    os._exit(status)


def _password_from_script(script: str) -> str:
    # Only here does a fence action start a process: the runner (subprocess, shutil, signal)
    # stays out of every other invocation's start-up, which Pacemaker pays on each monitor.
    import shlex

    from zfsha import run

    result = run.run(shlex.split(script), timeout=30)
    password = result.stdout.strip("\r\n")
    if not password:
        raise ConfigError("password script printed no password")
    return secrets.register(password)


def _with_default(option: FenceOption, default: str) -> FenceOption:
    from dataclasses import replace

    return replace(option, default=default)


def _plug_name(plug: str | None) -> str:
    return f"outlet {plug}" if plug else "the device"


def _describe(states: Mapping[str | None, bool]) -> str:
    return ", ".join(f"{_plug_name(plug)} {'ON' if state else 'OFF'}" for plug, state in states.items())


def _failed(reason: str) -> int:
    reason = secrets.redact(one_line(reason))
    log.error("%s", reason)
    if not logging.getLogger().handlers:
        sys.stderr.write(f"Failed: {reason}\n")
    return EXIT_FAILURE
