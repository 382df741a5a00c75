"""The lab's reading of crm_mon XML: which nodes count as joined members."""

import xml.etree.ElementTree as ET

from lab.nscluster import crm_status

# Shaped as crm_mon --output-as=xml prints its nodes (Pacemaker 2.1), right after node1 rebooted.
STATUS = """<pacemaker-result><nodes>
  <node name="node1" id="1" online="true" standby="false" maintenance="false" pending="true" unclean="false"/>
  <node name="node2" id="2" online="true" standby="false" maintenance="false" pending="false" unclean="false"/>
  <node name="node3" id="3" online="false" standby="false" maintenance="false" pending="false" unclean="false"/>
  <node name="node4" id="4" online="true" standby="true" maintenance="false" pending="false" unclean="false"/>
</nodes></pacemaker-result>"""


def test_a_node_still_joining_is_online_but_not_a_member():
    status = ET.fromstring(STATUS)
    assert crm_status.online_nodes(status) == ["node1", "node2", "node4"]
    assert crm_status.member_nodes(status) == ["node2"]


def test_a_standby_node_has_joined_but_is_no_member():
    status = ET.fromstring(STATUS)
    assert crm_status.joined_nodes(status) == ["node2", "node4"]
