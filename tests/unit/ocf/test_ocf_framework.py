import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from tests.unit.ocf.example_agent import agent

PCS_OCF_RNG = Path("/usr/share/pcs/data/ocf-1.1.rng")
REPO = Path(__file__).resolve().parents[3]


def run_agent(action: str, env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = agent.execute(["example", action], {"HA_LOGFACILITY": "none", **env})
    out, err = capsys.readouterr()
    return status, out, err


def test_start_monitor_stop_cycle(tmp_path, capsys):
    env = {"OCF_RESKEY_state_file": str(tmp_path / "state"), "OCF_RESKEY_CRM_meta_interval": "10000"}
    assert run_agent("monitor", env, capsys)[0] == 7
    assert run_agent("start", env, capsys)[0] == 0
    assert (tmp_path / "state").read_text() == "3"
    assert run_agent("monitor", env, capsys)[0] == 0
    assert run_agent("stop", env, capsys)[0] == 0
    assert run_agent("stop", env, capsys)[0] == 0
    assert run_agent("monitor", env, capsys)[0] == 7


def test_degraded_monitor_returns_190_with_reason(tmp_path, capsys):
    env = {"OCF_RESKEY_state_file": str(tmp_path / "state"), "OCF_RESKEY_health": "degraded"}
    run_agent("start", env, capsys)
    status, _, err = run_agent("monitor", env, capsys)
    assert status == 190
    assert "ocf-exit-reason:one leg is missing" in err


def test_missing_required_parameter_is_err_configured_with_reason(capsys):
    status, _, err = run_agent("start", {}, capsys)
    assert status == 6
    assert "ocf-exit-reason:required parameter state_file is not set" in err


def test_bad_integer_and_select_values_name_the_parameter(tmp_path, capsys):
    base = {"OCF_RESKEY_state_file": str(tmp_path / "s")}
    status, _, err = run_agent("validate-all", {**base, "OCF_RESKEY_size": "many"}, capsys)
    assert (status, "parameter size must be an integer" in err) == (6, True)
    status, _, err = run_agent("validate-all", {**base, "OCF_RESKEY_mode": "reckless"}, capsys)
    assert (status, "must be one of fast, safe" in err) == (6, True)
    status, _, err = run_agent("validate-all", {**base, "OCF_RESKEY_size": "0"}, capsys)
    assert (status, "at least 1" in err) == (6, True)


def test_stop_and_probe_of_invalid_configuration_report_not_running(capsys):
    assert run_agent("stop", {}, capsys)[0] == 0
    assert run_agent("monitor", {"OCF_RESKEY_CRM_meta_interval": "0"}, capsys)[0] == 7
    assert run_agent("monitor", {"OCF_RESKEY_health": "invalid", "OCF_RESKEY_state_file": "/x"}, capsys)[0] == 7
    # a recurring monitor of a configuration that became invalid is an error, not "stopped"
    status = run_agent("monitor", {"OCF_RESKEY_CRM_meta_interval": "10000"}, capsys)[0]
    assert status == 6


def test_validate_depth_is_taken_from_ocf_check_level(tmp_path, capsys):
    env = {"OCF_RESKEY_state_file": "/nonexistent-dir/state"}
    assert run_agent("validate-all", env, capsys)[0] == 0
    status, _, err = run_agent("validate-all", {**env, "OCF_CHECK_LEVEL": "10"}, capsys)
    assert status == 6 and "does not exist" in err


def test_deprecated_parameter_fills_its_replacement(tmp_path, capsys):
    env = {"OCF_RESKEY_state_file": str(tmp_path / "s"), "OCF_RESKEY_old_size": "9"}
    assert run_agent("start", env, capsys)[0] == 0
    assert (tmp_path / "s").read_text() == "9"


def test_unknown_action_is_unimplemented(capsys):
    status, _, err = run_agent("promote", {}, capsys)
    assert status == 3 and "not implemented" in err


def test_missing_action_is_err_args(capsys):
    assert agent.execute(["example"], {}) == 2


def test_exit_reason_prefix_comes_from_environment(capsys):
    status, _, err = run_agent("start", {"OCF_EXIT_REASON_PREFIX": "REASON>"}, capsys)
    assert status == 6 and "REASON>required parameter" in err


def test_metadata_validates_against_pcs_schema(capsys):
    if not PCS_OCF_RNG.exists():
        pytest.skip("pcs is not installed")
    xml = agent.metadata()
    schema = etree.RelaxNG(etree.parse(str(PCS_OCF_RNG)))
    document = etree.fromstring(xml.encode())
    assert schema.validate(document), schema.error_log
    params = {p.get("name"): p for p in document.iter("parameter")}
    assert params["state_file"].get("required") == "1"
    assert params["state_file"].get("unique-group") == "state"
    assert params["verbose"].get("reloadable") == "1"
    assert params["old_size"].find("deprecated/replaced-with").get("name") == "size"
    assert [o.get("value") for o in params["mode"].iter("option")] == ["fast", "safe"]
    assert document.findtext("version") == "1.1"


def test_agent_runs_as_a_process_with_exit_codes(tmp_path):
    env = {"PYTHONPATH": f"{REPO / 'lib'}:{REPO}", "HA_LOGFACILITY": "none", "OCF_RESKEY_state_file": str(tmp_path / "s")}
    script = [sys.executable, "-m", "tests.unit.ocf.example_agent"]
    assert subprocess.run([*script, "start"], env=env, cwd=REPO).returncode == 0
    done = subprocess.run(
        [*script, "monitor"], env={**env, "OCF_RESKEY_health": "degraded"}, cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 190
    assert "ocf-exit-reason:one leg is missing" in done.stderr
