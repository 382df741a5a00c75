"""Reading `crm_mon --output-as=xml`: which nodes are online, where resources run."""

from __future__ import annotations

import xml.etree.ElementTree as ET

CRM_MON = ["crm_mon", "--one-shot", "--output-as=xml"]


def parse(xml_text: str) -> ET.Element:
    return ET.fromstring(xml_text)


def online_nodes(status: ET.Element) -> list[str]:
    return [node.get("name", "") for node in status.iterfind("nodes/node") if node.get("online") == "true"]


def joined_nodes(status: ET.Element, also_excluding: tuple[str, ...] = ()) -> list[str]:
    """Nodes online and neither still joining (pending) nor unclean, nor flagged with any of
    `also_excluding`. A rebooted node reads online="true" in the XML while its join is pending."""
    excluded = ("pending", "unclean", *also_excluding)
    return [
        node.get("name", "")
        for node in status.iterfind("nodes/node")
        if node.get("online") == "true" and not any(node.get(flag) == "true" for flag in excluded)
    ]


def member_nodes(status: ET.Element) -> list[str]:
    """Nodes crm_mon lists under "Online:": joined, and not shutting down, standby or in maintenance."""
    return joined_nodes(status, ("shutdown", "standby", "maintenance"))


def node_attributes(status: ET.Element, name: str) -> dict[str, str]:
    """crm_mon's attributes of one node (online, unclean, standby, ...); {} if it is not listed."""
    for node in status.iterfind("nodes/node"):
        if node.get("name") == name:
            return dict(node.attrib)
    return {}


def resource_nodes(status: ET.Element, resource: str, role: str = "Started") -> list[str]:
    """Nodes where `resource` (a primitive, or every instance of a clone of it) has `role`."""
    return [
        node.get("name", "")
        for element in status.iter("resource")
        if element.get("id") == resource and element.get("role") == role
        for node in element.iterfind("node")
    ]


def dc(status: ET.Element) -> str | None:
    current = status.find("summary/current_dc")
    if current is None or current.get("present") != "true":
        return None
    return current.get("name")
