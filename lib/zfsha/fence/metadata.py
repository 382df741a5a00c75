"""Fence agent metadata in the fence-agents format, and a man page derived from it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zfsha.version import version

if TYPE_CHECKING:
    from zfsha.fence.agent import FenceAgent


def render(agent: FenceAgent) -> str:
    from lxml import etree

    root = etree.Element("resource-agent", name=agent.name, shortdesc=agent.shortdesc)
    etree.SubElement(root, "longdesc").text = agent.longdesc
    etree.SubElement(root, "vendor-url").text = agent.vendor_url
    parameters = etree.SubElement(root, "parameters")
    for option in agent.options:
        _parameter(parameters, option.name, option, deprecated=False)
        for old in option.deprecated_names:
            _parameter(parameters, old, option, deprecated=True)
    actions = etree.SubElement(root, "actions")
    for action in agent.actions:
        attributes = {"name": action}
        if action == "on":
            attributes["automatic"] = "0"
        etree.SubElement(actions, "action", attributes)
    return '<?xml version="1.0" ?>\n' + etree.tostring(root, pretty_print=True, encoding="unicode")


def _parameter(parent, name, option, deprecated: bool) -> None:  # type: ignore[no-untyped-def]
    from lxml import etree

    attributes = {"name": name, "unique": "0", "required": "1" if option.required and not deprecated else "0"}
    if deprecated:
        attributes["deprecated"] = "1"
    elif option.deprecated_names:
        attributes["obsoletes"] = option.deprecated_names[0]
    element = etree.SubElement(parent, "parameter", attributes)
    etree.SubElement(element, "getopt", mixed=option.getopt)
    content = etree.SubElement(element, "content", type=option.type)
    if option.default is not None:
        content.set("default", option.default)
    for choice in option.choices:
        etree.SubElement(content, "option", value=choice)
    etree.SubElement(element, "shortdesc", lang="en").text = option.shortdesc


def _roff(text: str) -> str:
    escaped = text.replace("\\", "\\e")
    return "\n".join(("\\&" + line) if line.startswith((".", "'")) else line for line in escaped.splitlines())


def manpage(agent: FenceAgent) -> str:
    """A man(7) page: the same facts as the metadata, for `man fence_x`."""
    lines = [
        f'.TH {agent.name.upper()} 8 "" "zfsha {version()}" "System Manager\'s Manual"',
        ".SH NAME",
        f"{agent.name} \\- {_roff(agent.shortdesc)}",
        ".SH SYNOPSIS",
        f".B {agent.name}",
        "[\\fIOPTION\\fR]...",
        ".SH DESCRIPTION",
        _roff(agent.longdesc),
        ".PP",
        "With no command-line arguments, options are read from standard input as key=value lines, "
        "one per line, as Pacemaker's fencer passes them; lines starting with # are ignored.",
        ".SH OPTIONS",
    ]
    for option in agent.options:
        lines += [".TP", f"\\fB{_roff(option.getopt)}\\fR", _roff(option.shortdesc)]
        stdin_names = ", ".join((option.name, *option.deprecated_names))
        default = f" Default: {option.default}." if option.default is not None else ""
        lines.append(f"Standard input name: {stdin_names}.{default}")
    lines += [".SH ACTIONS"]
    for action in agent.actions:
        lines += [".TP", f"\\fB{action}\\fR"]
    lines += [
        ".SH EXIT STATUS",
        "0 on success (status: outlet on); 1 on failure; 2 when status finds the outlet off.",
        ".SH SEE ALSO",
        ".BR stonith_admin (8),",
        ".BR pcs (8)",
    ]
    return "\n".join(lines) + "\n"
