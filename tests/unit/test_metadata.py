"""Every shipped agent's metadata is what its real consumers accept, and metadata/ is up to date."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

REPO = Path(__file__).resolve().parents[2]
OCF_RNG = Path("/usr/share/pcs/data/ocf-1.1.rng")
FENCE_RNG = Path("/usr/share/cluster/relaxng/metadata.rng")
OCF_AGENTS = sorted(p for p in (REPO / "agents").iterdir() if p.is_file())
FENCE_AGENTS = sorted((REPO / "fence").glob("fence_*"))


def metadata_of(executable: Path, *args: str, user: str | None = None) -> str:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "lib")}
    command = [sys.executable, str(executable), *args]
    if user is not None:
        command = ["/usr/sbin/runuser", "-u", user, "--", *command]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd="/")
    assert done.returncode == 0, done.stderr
    return done.stdout


def validate(xml: str, schema_path: Path) -> etree._Element:
    if not schema_path.exists():
        pytest.fail(f"{schema_path} is missing: install pcs and fence-agents (make deps)")
    document = etree.fromstring(xml.encode())
    schema = etree.RelaxNG(etree.parse(str(schema_path)))
    assert schema.validate(document), schema.error_log
    return document


def test_there_are_agents_to_check():
    assert OCF_AGENTS or FENCE_AGENTS


@pytest.mark.parametrize("agent", OCF_AGENTS, ids=lambda p: p.name)
def test_ocf_metadata_validates_against_pcs_schema(agent):
    document = validate(metadata_of(agent, "meta-data"), OCF_RNG)
    assert document.get("name") == agent.name
    assert document.findtext("version") == "1.1"
    actions = {a.get("name") for a in document.iter("action")}
    assert {"start", "stop", "monitor", "meta-data", "validate-all"} <= actions


@pytest.mark.parametrize("agent", OCF_AGENTS, ids=lambda p: p.name)
def test_ocf_metadata_works_as_nobody_without_backend_tools(agent):
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to user nobody")
    assert metadata_of(agent, "meta-data", user="nobody") == metadata_of(agent, "meta-data")


@pytest.mark.parametrize("agent", FENCE_AGENTS, ids=lambda p: p.name)
def test_fence_metadata_validates_against_fence_agents_schema(agent):
    document = validate(metadata_of(agent, "-o", "metadata"), FENCE_RNG)
    assert document.get("name") == agent.name


@pytest.mark.parametrize("agent", OCF_AGENTS + FENCE_AGENTS, ids=lambda p: p.name)
def test_checked_in_metadata_is_current(agent):
    args = ("-o", "metadata") if agent.name.startswith("fence_") else ("meta-data",)
    checked_in = REPO / "metadata" / f"{agent.name}.xml"
    assert checked_in.exists(), f"run make metadata: {checked_in.name} is missing"
    assert checked_in.read_text() == metadata_of(agent, *args), f"run make metadata: {checked_in.name} is stale"


@pytest.mark.parametrize("agent", OCF_AGENTS + FENCE_AGENTS, ids=lambda p: p.name)
def test_agent_runs_on_the_distro_interpreter(agent):
    # OCF agents skip site processing (-S): their monitors run every few seconds (zfsha.steady).
    wanted = "#!/usr/bin/python3 -S" if agent in OCF_AGENTS else "#!/usr/bin/python3"
    assert agent.read_text().splitlines()[0] == wanted
    assert os.access(agent, os.X_OK)
