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
