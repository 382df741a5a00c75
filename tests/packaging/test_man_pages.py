"""ocf2man: an OCF agent's metadata as a man(7) page that says everything the metadata says."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from lxml import etree
from ocf2man import page, roff

from .conftest import CLEAN_PATH, REPO, require_tools

METADATA = """<resource-agent name="demo" version="1.2.3">
  <version>1.1</version>
  <longdesc lang="en">First line.
.starts with a dot and \\ a backslash

'quoted start</longdesc>
  <shortdesc lang="en">A demo agent</shortdesc>
  <parameters>
    <parameter name="pool" required="1" unique-group="p" reloadable="0">
      <longdesc lang="en">The pool to import</longdesc>
      <shortdesc lang="en">The pool to import</shortdesc>
      <content type="string"/>
    </parameter>
    <parameter name="mode" reloadable="1">
      <longdesc lang="en">Longer story about the mode.</longdesc>
      <shortdesc lang="en">How to run</shortdesc>
      <content type="select" default="fast"><option value="fast"/><option value="safe"/></content>
    </parameter>
    <parameter name="old">
      <deprecated><replaced-with name="mode"/></deprecated>
      <longdesc lang="en">Old</longdesc>
      <shortdesc lang="en">Old</shortdesc>
      <content type="boolean" default="false"/>
    </parameter>
  </parameters>
  <actions>
    <action name="start" timeout="20s"/>
    <action name="monitor" timeout="20s" interval="10s" depth="0"/>
    <action name="meta-data"/>
  </actions>
</resource-agent>"""


def demo_page() -> str:
    return page(etree.fromstring(METADATA), "zfsha", "1.2.3")


def test_roff_keeps_text_lines_from_being_read_as_requests() -> None:
    assert roff(".x\n'y\n\nplain \\ z") == "\\&.x\n\\&'y\nplain \\e z"


def test_page_names_header_and_synopsis_like_resource_agents() -> None:
    text = demo_page()
    assert text.startswith('.TH OCF_ZFSHA_DEMO 7 "" "zfsha 1.2.3" "OCF resource agents"\n')
    assert "ocf_zfsha_demo \\- A demo agent" in text
    assert "ocf:zfsha:demo" in text


def test_page_states_every_parameter_fact() -> None:
    text = demo_page()
    assert "\\fBpool\\fR (string, required, unique in group p)" in text
    assert "\\fBmode\\fR (select, default: fast, one of: fast, safe, reloadable)" in text
    assert "\\fBold\\fR (boolean, default: false, deprecated, use mode)" in text
    assert "Longer story about the mode." in text and "How to run" in text
    assert text.count("The pool to import") == 1, "a long help equal to the short one is said once"


def test_page_lists_every_action_with_its_attributes() -> None:
    text = demo_page()
    assert "\\fBmonitor\\fR\ntimeout=20s, interval=10s, depth=0" in text
    assert "\\fBmeta-data\\fR\n(no attributes)" in text


# Fence agents write their own page (-o manpage); the OCF agents' pages are ocf2man's.
OCF_METADATA = sorted(path for path in (REPO / "metadata").glob("*.xml") if not path.stem.startswith("fence_"))


@pytest.mark.parametrize("metadata", OCF_METADATA, ids=lambda path: path.stem)
def test_real_agent_pages_render_cleanly_and_name_every_parameter(metadata: Path, tmp_path: Path) -> None:
    require_tools("man")
    document = etree.parse(str(metadata)).getroot()
    text = page(document, "zfsha", "0")
    for parameter in document.iter("parameter"):
        assert f"\\fB{parameter.get('name')}\\fR (" in text
    source = tmp_path / f"{metadata.stem}.7"
    source.write_text(text)
    rendered = subprocess.run(
        ["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", str(source)],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": CLEAN_PATH, "LC_ALL": "C.UTF-8", "MANROFFSEQ": ""},
    )
    assert rendered.returncode == 0 and rendered.stderr == "", rendered.stderr
