#!/usr/bin/python3
"""Time fence_smartplug per plug family on loopback: status, and off-and-verify (off until the device reports it).

Each family's real peer (lab/peers) runs on loopback. "agent" columns run fence/fence_smartplug as a
process with options on stdin, as Pacemaker's fencer does (interpreter start and imports included);
"driver" columns call the family's driver in this process (the protocol alone). Prints medians of
--runs runs. Usage: sudo /usr/bin/python3 bench/fence_smartplug.py [--runs 5] [--families tasmota,kasa]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "lib"), str(REPO)]

import pytest  # noqa: E402  (the fixtures skip a family whose peer cannot run here)

from tests.fence.smartplug_fixtures import FAMILIES, PlugUnderTest, plug_peer, run_agent  # noqa: E402
from zfsha.fence import FenceOption, FenceOptions  # noqa: E402
from zfsha.plugs import connect  # noqa: E402
from zfsha.plugs.settings import settings_from_options  # noqa: E402


def timed(action) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def agent_ms(plug: PlugUnderTest, action: str, port: str) -> float:
    def once() -> None:
        result = run_agent({**plug.options, "action": action, "port": port})
        if result.returncode not in (0, 2):
            raise RuntimeError(f"{plug.family} {action}: {result.stderr.strip()}")

    return timed(once)


def driver_options(plug: PlugUnderTest) -> FenceOptions:
    values = dict(plug.options)
    if "password_script" in values:
        values["password"] = Path(values.pop("password_script").split()[-1]).read_text().strip()
    names = {*values, "login_timeout", "shell_timeout"}
    declared = [FenceOption(name, name, name) for name in names]
    return FenceOptions(declared, {"login_timeout": "5", "shell_timeout": "3", **values})


def driver_off_and_verify_ms(plug: PlugUnderTest, port: str) -> float:
    def once() -> None:
        device = connect(settings_from_options(driver_options(plug)))
        try:
            device.set_power(port, False)
            while device.power_state(port):
                time.sleep(0.01)
        finally:
            device.close()

    return timed(once)


def driver_status_ms(plug: PlugUnderTest, port: str) -> float:
    def once() -> None:
        device = connect(settings_from_options(driver_options(plug)))
        try:
            device.power_state(port)
        finally:
            device.close()

    return timed(once)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--families", default=",".join(FAMILIES))
    args = parser.parse_args()
    print(f"fence_smartplug on loopback, median of {args.runs} runs, milliseconds")
    print(f"{'family':<14} {'agent status':>13} {'agent off+verify':>17} {'driver status':>14} {'driver off+verify':>18}")
    for family in args.families.split(","):
        with tempfile.TemporaryDirectory() as workdir:
            try:
                with plug_peer(family, Path(workdir)) as plug:
                    port = next(iter(plug.plugs))
                    rows: dict[str, list[float]] = {"status": [], "off": [], "dstatus": [], "doff": []}
                    for _ in range(args.runs):
                        rows["status"].append(agent_ms(plug, "status", port))
                        rows["off"].append(agent_ms(plug, "off", port))
                        agent_ms(plug, "on", port)
                        rows["dstatus"].append(driver_status_ms(plug, port))
                        rows["doff"].append(driver_off_and_verify_ms(plug, port))
                        agent_ms(plug, "on", port)
            except pytest.skip.Exception as skipped:
                print(f"{family:<14} skipped: {skipped}")
                continue
        med = {key: statistics.median(values) for key, values in rows.items()}
        print(f"{family:<14} {med['status']:>13.0f} {med['off']:>17.0f} {med['dstatus']:>14.1f} {med['doff']:>18.1f}")


if __name__ == "__main__":
    main()
