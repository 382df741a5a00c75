"""What one `fence_ipmi -o status` loads, read from the interpreter's own import log (-X importtime)
while it logs in to a real BMC (lab.peers.ipmi) on loopback.

Start-up is most of a status call (bench/fence_ipmi.py): the process runner, argparse and pyghmi's
public Command (which loads every OEM handler) have no part in it unless a password script or a
command line asks for them."""

from __future__ import annotations

import subprocess

from tests.fence.ipmi_fixtures import AGENT, PYTHON, REPO, bmc_options, running_bmc, stdin_for

NOT_FOR_STATUS = ("subprocess", "argparse", "zfsha.run", "pyghmi.ipmi.command")


def imported_modules(argv: list[str], stdin: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO / "lib")}
    done = subprocess.run(
        [PYTHON, "-X", "importtime", str(AGENT), *argv], input=stdin, capture_output=True, text=True, env=env, timeout=60
    )
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    return done, modules


def test_status_logs_in_without_the_runner_argparse_or_pyghmi_oem_layer():
    with running_bmc() as bmc:
        done, modules = imported_modules([], stdin_for(bmc_options(bmc, action="status")))
    assert (done.returncode, done.stdout) == (0, "Status: ON\n")
    assert "pyghmi.ipmi.private.session" in modules
    assert [name for name in NOT_FOR_STATUS if name in modules] == []
    assert not any(name.startswith("pyghmi.ipmi.oem") for name in modules)


def test_a_password_script_and_the_command_line_still_load_what_they_need(tmp_path):
    secret = tmp_path / "bmc-password"
    secret.write_text("not-the-password\n", encoding="utf-8")
    with running_bmc() as bmc:
        argv = ["--ip", "127.0.0.1", "--ipport", str(bmc.port), "--username", "fencer", "-o", "status"]
        done, modules = imported_modules([*argv, "--password-script", f"/bin/cat {secret}"], "")
    # The wrong password proves the script ran and its output was used.
    assert done.returncode == 1 and "wrong password" in done.stderr
    assert {"argparse", "zfsha.run", "subprocess"} <= modules


# Runs fence_ipmi with pyghmi's session module made slow to import, as it is in a loaded emulated guest.
SLOW_IMPORT = """
import importlib.abc, runpy, sys, time

delay, agent = float(sys.argv[1]), sys.argv[2]

class SlowSession(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "pyghmi.ipmi.private.session":
            time.sleep(delay)
        return None

sys.meta_path.insert(0, SlowSession())
sys.argv = [agent]
runpy.run_path(agent, run_name="__main__")
"""


def test_login_timeout_bounds_the_bmc_not_the_import_of_pyghmi():
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO / "lib")}
    with running_bmc() as bmc:
        options = bmc_options(bmc, action="status", login_timeout="1")
        done = subprocess.run(
            [PYTHON, "-c", SLOW_IMPORT, "2", str(AGENT)],
            input=stdin_for(options),
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert (done.returncode, done.stdout) == (0, "Status: ON\n"), done.stderr
