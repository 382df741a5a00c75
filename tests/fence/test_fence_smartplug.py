"""fence_smartplug against the real protocol peers of every family, run as Pacemaker runs it.

Each test starts the peer (lab/peers) on loopback and runs /usr/bin/python3 fence/fence_smartplug with
options on stdin. Success is judged by the peer's own relay state and the power hooks it ran, not by
what the agent prints.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from lab.nscluster import Cluster, remove_state
from tests.fence.cluster_checks import reboot_and_hung_node_are_fenced
from tests.fence.smartplug_fixtures import (
    FAMILIES,
    SECRET,
    PlugUnderTest,
    free_port,
    odd_http_server,
    plug_peer,
    run_agent,
    secret_file,
    shelly_in_bridge,
    silent_port,
    skip_unless_available,
    why_no_cluster,
)

AUTHENTICATED = tuple(family for family in FAMILIES if family != "kasa")


@pytest.fixture(params=FAMILIES)
def plug(request: pytest.FixtureRequest, tmp_path: Path):
    with plug_peer(request.param, tmp_path) as running:
        yield running


def act(plug: PlugUnderTest, action: str, port: str | None = None, **extra: str):
    # Pacemaker passes the outlet as port= (pcmk_host_map's value), plus nodename=.
    options = {**plug.options, "action": action, **extra}
    if port is not None:
        options.update(port=port, nodename="node-under-test")
    return run_agent(options)


def assert_failed_with_one_line(result, *words: str) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]
    return lines[0]


def test_off_status_on_reboot_list_and_monitor_drive_the_real_relay(plug: PlugUnderTest):
    first, second = list(plug.plugs)

    assert act(plug, "status", first).returncode == 0

    result = act(plug, "off", first)
    assert result.returncode == 0, result.stderr
    assert not plug.is_on(first) and plug.is_on(second)
    assert plug.hooks.lines(1) == [f"{plug.plugs[first]} off"]

    status = act(plug, "status", first)
    assert status.returncode == 2 and "OFF" in status.stdout

    result = act(plug, "on", first)
    assert result.returncode == 0, result.stderr
    assert plug.is_on(first)

    result = act(plug, "reboot", second)
    assert result.returncode == 0, result.stderr
    assert plug.is_on(second)
    assert plug.hooks.lines(4)[2:] == [f"{plug.plugs[second]} off", f"{plug.plugs[second]} on"]

    listing = act(plug, "list")
    assert listing.returncode == 0, listing.stderr
    listed = {line.split(",")[0] for line in listing.stdout.splitlines()}
    listed_aliases = {line.split(",")[1] for line in listing.stdout.splitlines()}
    assert all(value in listed or value in listed_aliases for value in plug.plugs)

    list_status = act(plug, "list-status")
    assert list_status.returncode == 0 and all(line.endswith(",ON") for line in list_status.stdout.splitlines()[:2])

    assert act(plug, "monitor").returncode == 0


@pytest.mark.parametrize("family", AUTHENTICATED)
def test_wrong_credentials_fail_with_a_one_line_reason(family: str, tmp_path: Path):
    with plug_peer(family, tmp_path) as plug:
        plug_value = next(iter(plug.plugs))
        assert plug.wrong_credentials is not None
        result = run_agent({**plug.wrong_credentials, "action": "off", "port": plug_value})
        assert_failed_with_one_line(result, "credentials", plug.options["ipport"])
        assert plug.is_on(plug_value)


def test_unknown_outlet_fails_with_a_one_line_reason(plug: PlugUnderTest):
    result = act(plug, "off", plug.unknown_plug)
    assert_failed_with_one_line(result, plug.unknown_plug)
    assert all(plug.board.snapshot().values())


@pytest.mark.parametrize("family", FAMILIES)
def test_unreachable_device_fails_with_a_one_line_reason(family: str):
    skip_unless_available(family)
    options = {
        "type": family,
        "ip": "127.0.0.1",
        "ipport": str(free_port()),
        "action": "off",
        "port": "1",
        "username": "admin",
        "password": "x",
    }
    if family == "homeassistant":
        options["port"] = "switch.node1"
    assert_failed_with_one_line(run_agent(options), "refused")


@pytest.mark.parametrize(
    "family, mode, words",
    [
        ("tasmota", "html", ["not JSON"]),
        ("shelly1", "error", ["HTTP 500"]),
        ("shelly2", "html", ["not JSON"]),
        ("homeassistant", "error", ["HTTP 500"]),
    ],
)
def test_http_errors_and_replies_that_are_not_json_fail_with_a_reason(family: str, mode: str, words: list[str]):
    with odd_http_server(mode) as port:
        plug_value = "switch.node1" if family == "homeassistant" else "1"
        result = run_agent(
            {"type": family, "ip": f"http://127.0.0.1:{port}", "password": "x", "action": "status", "port": plug_value}
        )
        assert_failed_with_one_line(result, *words)


@pytest.mark.parametrize(
    "family, peer_family",
    [
        ("shelly2", "tasmota"),
        ("tasmota", "shelly1"),
        ("homeassistant", "shelly2"),
        ("shelly1", "homeassistant"),
        ("kasa", "tasmota"),
    ],
)
def test_a_device_of_another_family_is_an_unexpected_reply(family: str, peer_family: str, tmp_path: Path):
    skip_unless_available(family)
    with plug_peer(peer_family, tmp_path) as other:
        options = {
            "type": family,
            "ip": f"{'https' if peer_family == 'homeassistant' else 'http'}://127.0.0.1",
            "ipport": other.options["ipport"],
            "password": "x",
            "ssl_insecure": "1",
            "action": "off",
            "port": "1",
        }
        if family == "kasa":
            options["ip"] = "127.0.0.1"
        if family == "homeassistant":
            options.update(port="switch.node1")
        result = run_agent(options)
        assert_failed_with_one_line(result, family)
        assert all(other.board.snapshot().values())


def test_home_assistant_https_is_verified_unless_ssl_insecure(tmp_path: Path):
    with plug_peer("homeassistant", tmp_path) as plug:
        unverified = {key: value for key, value in plug.options.items() if key != "ssl_ca_file"}
        result = run_agent({**unverified, "action": "status", "port": "switch.node1"})
        assert_failed_with_one_line(result, "certificate verification failed")
        result = run_agent({**unverified, "ssl_insecure": "1", "action": "status", "port": "switch.node1"})
        assert result.returncode == 0, result.stderr


def test_home_assistant_without_token_is_a_configuration_error():
    result = run_agent({"type": "homeassistant", "ip": "127.0.0.1", "action": "validate-all", "port": "switch.node1"})
    assert_failed_with_one_line(result, "token")


def test_cli_refuses_an_unknown_host_key_instead_of_trusting_it(tmp_path: Path):
    with plug_peer("cli", tmp_path) as plug:
        options = {**plug.options, "ssh_options": f"-o UserKnownHostsFile={tmp_path / 'empty_known_hosts'}"}
        result = run_agent({**options, "action": "off", "port": "1"})
        assert_failed_with_one_line(result, "host key")
        assert plug.is_on("1")


@pytest.mark.parametrize("family", AUTHENTICATED)
def test_secrets_stay_out_of_output_logs_debug_file_and_argv(family: str, tmp_path: Path):
    with plug_peer(family, tmp_path) as plug:
        assert plug.secret is not None
        debug_file = tmp_path / "debug.log"
        log_file = tmp_path / "ha.log"
        plug_value = next(iter(plug.plugs))
        options = {
            **plug.options,
            "action": "reboot",
            "port": plug_value,
            "verbose": "1",
            "debug_file": str(debug_file),
            "power_wait": "1",
        }
        stdin = "".join(f"{key}={value}\n" for key, value in options.items())
        import subprocess

        from tests.fence.smartplug_fixtures import AGENT, REPO

        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "PYTHONPATH": str(REPO / "lib"),
            "HA_LOGFACILITY": "none",
            "HA_LOGFILE": str(log_file),
            "HA_DEBUGLOG": str(log_file),
            "HA_debug": "1",
        }
        out_file, err_file = tmp_path / "stdout", tmp_path / "stderr"
        with out_file.open("w") as out, err_file.open("w") as err:
            agent = subprocess.Popen(
                ["/usr/bin/python3", str(AGENT)], stdin=subprocess.PIPE, stdout=out, stderr=err, text=True, env=env, cwd="/"
            )
            assert agent.stdin is not None
            agent.stdin.write(stdin)
            agent.stdin.close()
            # While the agent runs (it waits power_wait after each switch), no process on this host may
            # carry the secret in its command line or environment: not the agent, not ssh.
            leaks: set[str] = set()
            while agent.poll() is None:
                leaks |= processes_holding(plug.secret.encode())
                time.sleep(0.01)
        stdout, stderr = out_file.read_text(), err_file.read_text()
        assert agent.returncode == 0, stderr
        assert not leaks, f"secret in argv/environment of {leaks}"
        debug = debug_file.read_text()
        assert debug.strip(), "the debug file should record the run"
        for text in (stdout, stderr, debug, log_file.read_text()):
            for spelling in (plug.secret, quote_plus(plug.secret), quote(plug.secret, safe="")):
                assert spelling not in text


def processes_holding(secret: bytes) -> set[str]:
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        for part in ("cmdline", "environ"):
            try:
                data = Path(f"/proc/{entry}/{part}").read_bytes()
            except OSError:
                continue
            if secret in data:
                found.add(f"{entry} ({part}: {data[:80]!r})")
    return found


@pytest.fixture
def plug_fenced_cluster(tmp_path: Path):
    """Three namespace nodes with stonith on, all powered through one Shelly Gen2 peer in the cluster's
    bridge netns, and one fence_smartplug device created with pcs as the README says."""
    reason = why_no_cluster()
    if reason:
        pytest.skip(reason)
    cluster = Cluster(tmp_path / "cluster", nodes=3, stonith_enabled=True)
    plug = None
    try:
        cluster.start()
        plug = shelly_in_bridge(cluster, tmp_path)
        password_file = secret_file(tmp_path, "shelly-password", SECRET)
        created = cluster.run(
            "node1",
            [
                "pcs", "stonith", "create", "plug-fence", "fence_smartplug", "type=shelly2",
                f"ip={cluster.bridge_address}", f"ipport={plug.port}", f"password_script=/bin/cat {password_file}",
                f"pcmk_host_map={plug.host_map}", "op", "monitor", "interval=30s",
                # pcs runs crm_resource with a scrubbed environment, so the tree's agent (which needs
                # PYTHONPATH=<repo>/lib in tree mode) cannot answer pcs's metadata query; the fencer can.
                "--force",
            ],
            timeout=60,
        )  # fmt: skip
        assert created.returncode == 0, created.stdout + created.stderr
        cluster.wait_for(lambda: cluster.resource_nodes("plug-fence"), timeout=60, what="plug-fence started")
        yield cluster
    finally:
        if plug is not None:
            plug.stop()
        cluster.stop(graceful=False)
        remove_state(cluster.state_dir)


@pytest.mark.cluster
def test_pacemaker_reboots_a_node_and_fences_a_hung_one_through_a_smart_plug(plug_fenced_cluster):
    cluster = plug_fenced_cluster
    reboot_and_hung_node_are_fenced(cluster, rebooted="node3", hung="node2")

    # The password reached the agent through password_script only: not in the CIB, not in any log.
    cib = cluster.run("node1", ["cibadmin", "--query"]).stdout
    assert SECRET not in cib
    for node in cluster.nodes:
        for log in ("pacemaker", "corosync"):
            path = cluster.log_path(node, log)
            assert not path.exists() or SECRET not in path.read_text(errors="replace")


def test_cli_refuses_a_plug_that_carries_shell_syntax(tmp_path: Path):
    with plug_peer("cli", tmp_path) as plug:
        result = run_agent({**plug.options, "action": "off", "port": "1; echo 0 > /proc/power/relay2"})
        assert_failed_with_one_line(result, "plug must be")
        assert all(plug.board.snapshot().values())


@pytest.mark.parametrize("family", FAMILIES)
def test_a_device_that_accepts_but_never_answers_fails_within_the_timeouts(family: str):
    skip_unless_available(family)
    with silent_port() as port:
        options = {"type": family, "ip": "127.0.0.1", "ipport": str(port), "action": "status", "port": "1",
                   "username": "admin", "password": "x", "login_timeout": "2", "shell_timeout": "1"}  # fmt: skip
        if family == "homeassistant":
            options.update(ip=f"http://127.0.0.1:{port}", port="switch.node1")
        assert_failed_with_one_line(run_agent(options, timeout=30), "no answer")
