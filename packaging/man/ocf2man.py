#!/usr/bin/python3
"""Write an OCF agent's man page (section 7) from its metadata XML, named as resource-agents names them.

usage: ocf2man.py METADATA.xml PROVIDER [VERSION] > ocf_PROVIDER_AGENT.7

VERSION defaults to the agent's own `version` attribute in the metadata.
"""

from __future__ import annotations

import sys

from lxml import etree


def roff(text: str | None) -> str:
    """Text as roff body lines: backslashes escaped, blank lines dropped (they are paragraph breaks in
    man(7) and lintian flags them), and a leading '.' or "'" kept from being read as a request."""
    lines = [line.strip() for line in (text or "").replace("\\", "\\e").splitlines()]
    return "\n".join(("\\&" + line) if line.startswith((".", "'")) else line for line in lines if line)


def page_name(provider: str, agent: str) -> str:
    return f"ocf_{provider}_{agent}"


def _parameter_facts(parameter: etree._Element) -> str:
    content = parameter.find("content")
    kind = content.get("type", "string") if content is not None else "string"
    facts = [kind]
    if parameter.get("required") == "1":
        facts.append("required")
    if content is not None and content.get("default") is not None:
        facts.append(f"default: {content.get('default')}")
    if content is not None and kind == "select":
        facts.append("one of: " + ", ".join(o.get("value", "") for o in content.iter("option")))
    if parameter.get("unique-group"):
        facts.append(f"unique in group {parameter.get('unique-group')}")
    if parameter.get("reloadable") == "1":
        facts.append("reloadable")
    if parameter.find("deprecated") is not None:
        replaced = parameter.find("deprecated/replaced-with")
        facts.append("deprecated" + (f", use {replaced.get('name')}" if replaced is not None else ""))
    return ", ".join(facts)


def page(document: etree._Element, provider: str, version: str) -> str:
    name = document.get("name", "")
    title = page_name(provider, name)
    out = [
        f'.TH {title.upper()} 7 "" "{provider} {version}" "OCF resource agents"',
        ".SH NAME",
        f"{title} \\- {roff(document.findtext('shortdesc'))}",
        ".SH SYNOPSIS",
        f"\\fBpcs resource create\\fR \\fIname\\fR \\fBocf:{provider}:{name}\\fR [\\fIparameter\\fR=\\fIvalue\\fR]...",
        ".SH DESCRIPTION",
        roff(document.findtext("longdesc")),
        ".SH PARAMETERS",
    ]
    for parameter in document.iter("parameter"):
        shortdesc = parameter.findtext("shortdesc") or ""
        longdesc = parameter.findtext("longdesc") or ""
        out += [".TP", f"\\fB{parameter.get('name')}\\fR ({roff(_parameter_facts(parameter))})", roff(shortdesc)]
        # Agents often repeat the short help as the long one; say it once.
        if longdesc.strip() and longdesc.strip() != shortdesc.strip():
            out += [".IP", roff(longdesc)]
    out.append(".SH ACTIONS")
    for action in document.iter("action"):
        details = ", ".join(f"{key}={value}" for key, value in action.attrib.items() if key != "name")
        out += [".TP", f"\\fB{action.get('name')}\\fR", roff(details) or "(no attributes)"]
    out += [".SH SEE ALSO", ".BR pcs (8),", ".BR crm_resource (8)"]
    return "\n".join(out) + "\n"


def main() -> int:
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    document = etree.parse(sys.argv[1]).getroot()
    version = sys.argv[3] if len(sys.argv) == 4 else document.get("version", "")
    sys.stdout.write(page(document, sys.argv[2], version))
    return 0


if __name__ == "__main__":
    sys.exit(main())
