"""The Node-RED example (src/homeguard/examples/node-red/flows.json): importable as it
is, and speaking only the topics that docs/topics.md documents."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from homeguard.adapters.codecs import decode_command
from homeguard.adapters.topics import SiteTopics
from homeguard.config import bundled_example
from homeguard.core.model import SensorState
from homeguard.core.panel import SensorStatus
from homeguard.services.outbound import Outbound

ROOT = Path(__file__).resolve().parents[1]
FLOWS = bundled_example().parent / "node-red" / "flows.json"
# Node types of Node-RED itself and of node-red-dashboard (the classic dashboard).
KNOWN_TYPES = {
    "tab",
    "mqtt-broker",
    "mqtt in",
    "mqtt out",
    "function",
    "ui_base",
    "ui_tab",
    "ui_group",
    "ui_text",
    "ui_text_input",
    "ui_button",
    "ui_template",
}


def flows() -> list[dict[str, Any]]:
    nodes = json.loads(FLOWS.read_text())
    assert isinstance(nodes, list)
    return nodes


def documented_topics() -> list[str]:
    """The topic column of docs/topics.md's contract table, for base topic ``home``."""
    table = (ROOT / "docs" / "topics.md").read_text().split("## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", table, flags=re.MULTILINE)


def is_documented(topic: str, documented: list[str]) -> bool:
    """Exactly a documented topic, where a ``+`` may stand only for a ``<placeholder>``."""
    for pattern in documented:
        want = pattern.split("/")
        got = topic.split("/")
        if len(want) == len(got) and all(
            g == w or (g == "+" and w.startswith("<")) for g, w in zip(got, want, strict=True)
        ):
            return True
    return False


def test_the_flow_is_shipped_with_the_package() -> None:
    assert FLOWS.is_file()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"examples/node-red/*.json"' in pyproject


def test_every_node_is_known_unique_and_wired_to_nodes_that_exist() -> None:
    nodes = flows()
    ids = [n["id"] for n in nodes]
    assert len(ids) == len(set(ids))
    by_id = {n["id"]: n for n in nodes}
    assert {n["type"] for n in nodes} <= KNOWN_TYPES
    for node in nodes:
        for output in node.get("wires", []):
            for target in output:
                assert target in by_id, f"{node['id']} is wired to a missing {target}"
        links = [("z", "tab"), ("group", "ui_group"), ("tab", "ui_tab")]
        if node["type"] in ("mqtt in", "mqtt out"):
            links.append(("broker", "mqtt-broker"))
        for key, kind in links:
            if key in node:
                assert by_id[node[key]]["type"] == kind, (node["id"], key)
        if node["type"] == "function":
            assert len(node["wires"]) == node["outputs"], node["id"]


def test_it_uses_only_documented_topics() -> None:
    documented = documented_topics()
    assert "home/alarm/sensors/<sensor_id>" in documented
    used = {n["topic"] for n in flows() if n["type"] in ("mqtt in", "mqtt out")}
    assert used, "no MQTT nodes"
    undocumented = sorted(t for t in used if not is_documented(t, documented))
    assert undocumented == []
    assert {"home/alarm/state", "home/alarm/set", "home/alarm/sensors/+"} <= used


def test_the_check_catches_an_undocumented_topic() -> None:
    documented = documented_topics()
    assert not is_documented("home/alarm/sets", documented)
    assert not is_documented("home/+/state", documented)  # + only where the docs vary
    assert is_documented("home/control/+/state", documented)


def run_function(node: dict[str, Any], msg: dict[str, Any], flow: dict[str, Any]) -> Any:
    """Run a function node's code in Node.js as Node-RED does: ``msg`` in, ``flow``
    context, its return value out (with the flow context afterwards)."""
    node_js = shutil.which("node")
    if node_js is None:
        pytest.skip("Node.js is not installed (apt-get install nodejs)")
    harness = (
        "const store = JSON.parse(process.argv[2]);"
        "const flow = {get: (k) => store[k], set: (k, v) => { store[k] = v; }};"
        "const run = new Function('msg', 'flow', process.argv[1]);"
        "const out = run(JSON.parse(process.argv[3]), flow);"
        "console.log(JSON.stringify({out: out === undefined ? null : out, flow: store}));"
    )
    done = subprocess.run(
        [node_js, "-e", harness, node["func"], json.dumps(flow), json.dumps(msg)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(done.stdout)


def node_named(name: str) -> dict[str, Any]:
    (found,) = [n for n in flows() if n.get("name") == name]
    return found


@pytest.mark.parametrize("action", ["ARM_AWAY", "ARM_HOME", "ARM_NIGHT", "DISARM", "TRIGGER"])
def test_the_keypad_sends_commands_homeguard_understands(action: str) -> None:
    nodes = flows()
    (button,) = [n for n in nodes if n["type"] == "ui_button" and n["payload"] == action]
    (target,) = button["wires"][0]
    function = next(n for n in nodes if n["id"] == target)
    result = run_function(function, {"payload": action}, {"code": "0042"})
    to_broker, to_code_field = result["out"]
    command = decode_command(to_broker["payload"].encode())
    assert command.action.value == action
    assert command.code == "0042"  # a string: leading zeros kept
    assert to_code_field == {"payload": ""}  # the field is cleared
    assert result["flow"]["code"] == ""
    no_code = run_function(function, {"payload": action}, {})["out"][0]
    assert decode_command(no_code["payload"].encode()).code is None


def test_the_sensor_table_reads_what_homeguard_publishes() -> None:
    sink = _Capture()
    outbound = Outbound(sink, SiteTopics("home"))
    outbound.sensor("front", SensorStatus(SensorState.OPEN), bypassed=False, battery=80)
    ((topic, payload),) = sink.sent.items()
    msg = {"topic": topic, "payload": json.loads(payload)}
    result = run_function(node_named("sensor rows"), msg, {"sensors": {"back": {"state": None}}})
    rows = result["out"]["payload"]
    assert [row["id"] for row in rows] == ["back", "front"]
    assert rows[1] == {
        "id": "front",
        "sensor": "front",
        "state": "OPEN",
        "active": True,
        "trouble": None,
        "bypassed": False,
        "battery": 80,
    }


class _Capture:
    def __init__(self) -> None:
        self.sent: dict[str, str] = {}

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        qos: int = 1,
        retain: bool = False,
        *,
        replaceable: bool = False,
    ) -> None:
        assert retain, topic
        self.sent[topic] = payload.decode() if isinstance(payload, bytes) else payload
