"""OCF 1.1 metadata XML generated from an agent's declaration (lxml is imported only here)."""

from __future__ import annotations

from collections.abc import Sequence

from zfsha.ocf.declaration import Action, Param, Value

OCF_API_VERSION = "1.1"


def _value_text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(
    name: str,
    version: str,
    shortdesc: str,
    longdesc: str,
    params: Sequence[Param],
    actions: Sequence[Action],
) -> str:
    from lxml import etree

    root = etree.Element("resource-agent", name=name, version=version)
    etree.SubElement(root, "version").text = OCF_API_VERSION
    etree.SubElement(root, "longdesc", lang="en").text = longdesc
    etree.SubElement(root, "shortdesc", lang="en").text = shortdesc
    parameters = etree.SubElement(root, "parameters")
    for param in params:
        attributes = {"name": param.name, "required": "1" if param.required else "0"}
        if param.unique_group:
            attributes["unique-group"] = param.unique_group
        attributes["reloadable"] = "1" if param.reloadable else "0"
        element = etree.SubElement(parameters, "parameter", attributes)
        etree.SubElement(element, "longdesc", lang="en").text = param.longdesc or param.shortdesc
        etree.SubElement(element, "shortdesc", lang="en").text = param.shortdesc
        if param.deprecated:
            deprecated = etree.SubElement(element, "deprecated")
            if param.replaced_with:
                etree.SubElement(deprecated, "replaced-with", name=param.replaced_with)
        content = etree.SubElement(element, "content", type=param.type)
        if param.default is not None:
            content.set("default", _value_text(param.default))
        for choice in param.choices:
            etree.SubElement(content, "option", value=choice)
    actions_element = etree.SubElement(root, "actions")
    for action in actions:
        attributes = {"name": action.name, "timeout": f"{action.timeout}s"}
        if action.interval is not None:
            attributes["interval"] = f"{action.interval}s"
        if action.depth is not None:
            attributes["depth"] = str(action.depth)
        if action.role:
            attributes["role"] = action.role
        if action.start_delay is not None:
            attributes["start-delay"] = f"{action.start_delay}s"
        etree.SubElement(actions_element, "action", attributes)
    body = etree.tostring(root, pretty_print=True, encoding="unicode")
    return '<?xml version="1.0"?>\n' + body
