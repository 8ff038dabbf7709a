"""Every example in the user docs, published exactly as the docs show it, does what the docs say.

The docs use MQTT_BASEPATH=ocpp and a station `garage`; this test runs the gateway with those settings.
"""
import asyncio
import json
import re
from pathlib import Path

from ocpp.v16 import call

from chargepoint import connected, now, run
from conftest import subscribed

DOCS = Path(__file__).resolve().parents[2] / "docs"


def mosquitto_pub_examples(name):
    """(topic, payload) of every `mosquitto_pub -t TOPIC -m 'PAYLOAD'` in a doc, multi-line payloads included."""
    text = (DOCS / name).read_text()
    return [(topic, payload) for topic, payload in re.findall(r"mosquitto_pub -t (\S+) -m '(.*?)'", text, re.S)]


def control_value(topic):
    """A plain value each control takes, as the docs describe them."""
    return {"charging_enabled": "ON", "max_current": "16", "availability": "Operative", "reset": "Soft",
            "unlock_connector": "1", "remote_start": "1", "trigger": "Heartbeat"}[topic.rsplit("/", 1)[1]]


def test_every_documented_example_works(start_gateway, watch):
    gateway = start_gateway(env={"MQTT_BASEPATH": "ocpp", "MQTT_USESTATIONNAME": "true", "ENV_FILE": None})
    live = watch("ocpp/#")
    subscribed(watch, "ocpp")
    examples = mosquitto_pub_examples("mqtt-api.md") + mosquitto_pub_examples("home-assistant.md")
    assert len(examples) == 20  # 12 in mqtt-api.md, 8 in home-assistant.md

    yaml = (DOCS / "home-assistant.md").read_text()
    automation = re.findall(r"topic: (\S+)\n\s+payload: \"(\d+)\"", yaml)
    assert automation == [("ocpp/garage/set/max_current", "16"), ("ocpp/garage/set/max_current", "0")]

    openhab = (DOCS / "openhab.md").read_text()
    state_topics = sorted(set(re.findall(r'stateTopic="([^"]+)"', openhab)))
    command_topics = sorted(set(re.findall(r'commandTopic="([^"]+)"', openhab)))
    node_red = (DOCS / "node-red.md").read_text()
    node_red_topic = re.search(r'msg.topic = "([^"]+)"', node_red).group(1)
    node_red_payload = json.loads(re.search(r"JSON.stringify\((\{.*?\})\);", node_red, re.S).group(1))
    inject = re.search(r"topic `(\S+/set/max_current)` and payload\n`(\d+)`", node_red)

    async def session():
        async with connected(gateway.url("garage")) as cp:
            await cp.call(call.BootNotification(charge_point_vendor="Acme", charge_point_model="Wallbox"))
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
            started = await cp.call(call.StartTransaction(connector_id=1, id_tag="TAG-OK", meter_start=0, timestamp=now()))
            await cp.call(call.MeterValues(connector_id=1, transaction_id=started.transaction_id, meter_value=[
                {"timestamp": now(), "sampledValue": [{"value": "1000"}, {"value": "7000", "measurand": "Power.Active.Import", "unit": "W"},
                                                      {"value": "40", "measurand": "SoC", "unit": "Percent"}]}]))

            async def publish(topic, payload):
                """Publishes and returns the command result document, or the bridge response."""
                mark = live.mark()
                live.publish(topic, payload)
                if "/bridge/request/" in topic:
                    return await asyncio.to_thread(live.wait_json, topic.replace("/request/", "/response/"), 10, mark)
                return await asyncio.to_thread(live.wait_json, "ocpp/garage/cmd_result", 15, mark)

            failures = []
            for topic, payload in examples + automation:
                result = await publish(topic, payload)
                if result["status"] != "ok":
                    failures.append((topic, payload, result))
            for topic in command_topics:
                if "/set/" in topic:
                    payload = control_value(topic)
                else:  # the cmd channel, with the command the documented rule sends
                    payload = json.dumps({"action": "remote_stop_transaction", "args": {"transaction_id": started.transaction_id}})
                result = await publish(topic, payload)
                if result["status"] != "ok":
                    failures.append((topic, payload, result))
            for topic, payload in [(node_red_topic, json.dumps(node_red_payload)), inject.groups()]:
                result = await publish(topic, payload)
                if result["status"] != "ok":
                    failures.append((topic, payload, result))
            return failures, cp.received

    failures, received = run(session(), timeout=120)
    assert failures == []
    profiles = [f["cs_charging_profiles"]["charging_schedule"]["charging_schedule_period"][0]["limit"]
                for name, f in received if name == "SetChargingProfile"]
    assert 16 in profiles and 0 in profiles  # the cheap-hours automation
    # Every state topic the openHAB Thing reads exists.
    missing = [t for t in state_topics if live.latest(t) is None]
    assert missing == []


def github_anchor(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_relative_link_in_the_docs_reaches_its_file_and_heading():
    root = DOCS.parent
    broken, checked = [], 0
    for page in [root / "README.md", root / "home-assistant-addon" / "DOCS.md", *sorted(DOCS.glob("*.md"))]:
        text = page.read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:", target):
                continue  # a URL
            checked += 1
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target}")
                continue
            if anchor and file.suffix == ".md":
                headings = {github_anchor(h) for h in re.findall(r"^#+ (.*)$", file.read_text(), re.M)}
                if anchor not in headings:
                    broken.append(f"{page.name}: {target}")
    assert broken == [] and checked > 50, (broken, checked)
