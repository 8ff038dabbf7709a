"""Home Assistant discovery, controls and bridge topics against a real broker (docs/home-assistant.md)."""
import asyncio
import json

from ocpp.v16 import call

from chargepoint import connected, now, run
from conftest import subscribed


def ha_env(base_path, **extra):
    return {"HA_DISCOVERY_PREFIX": f"{base_path}/ha", "HA_STATUS_TOPIC": f"{base_path}/ha/status",
            "OCPP_REMOTE_ID_TAG": "ha-remote", **extra}


def configs(watcher, prefix, node=None):
    """The latest discovery config per topic (empty payloads are removals)."""
    latest = {}
    with watcher.condition:
        for topic, payload, _ in watcher.messages:
            if topic.startswith(prefix + "/") and topic.endswith("/config") and (node is None or f"/{node}/" in topic):
                latest[topic] = json.loads(payload) if payload else None
    return {t: c for t, c in latest.items() if c is not None}


def test_discovery_appears_on_connect_and_again_when_home_assistant_comes_online(start_gateway, watch, base_path):
    gateway = start_gateway(env=ha_env(base_path))
    live = watch(f"{base_path}/#")
    prefix = f"{base_path}/ha"

    async def session():
        async with connected(gateway.url("CP1")) as cp:
            await cp.call(call.BootNotification(charge_point_vendor="Acme", charge_point_model="Wallbox", firmware_version="3.1"))
            await cp.call(call.MeterValues(connector_id=1, meter_value=[{"timestamp": now(), "sampledValue": [
                {"value": "12.345", "unit": "kWh"},
                {"value": "16", "measurand": "Current.Import", "phase": "L1", "unit": "A"}]}]))
            node = base_path.replace("/", "_") + "_CP1"
            await asyncio.to_thread(live.wait, f"{prefix}/sensor/{node}/current_import_l1/config")
            await asyncio.to_thread(live.wait, f"{prefix}/sensor/{node}/current_import/config")  # announced after it
            found = configs(live, prefix, node)
            mark = live.mark()
            live.publish(f"{prefix}/status", "online")
            await asyncio.to_thread(live.wait, f"{prefix}/sensor/{node}/energy/config", None, 10, mark)
            return node, found

    node, found = run(session())
    assert len(found) == 23  # 21 entities, the L1 current that the charger reported and the current it makes (PhaseAggregates)
    energy = found[f"{prefix}/sensor/{node}/energy/config"]
    assert energy["device"]["manufacturer"] == "Acme" and energy["device"]["sw_version"] == "3.1"
    assert energy["device_class"] == "energy" and energy["state_class"] == "total_increasing"
    assert energy["unit_of_measurement"] == "Wh"
    # The energy sensor's state topic carries the register in Wh.
    assert live.wait(energy["state_topic"]) == "12345"
    assert {a["topic"] for a in energy["availability"]} == {f"{base_path}/bridge/state", f"{base_path}/CP1/state/connection_state"}


def test_every_control_does_what_its_name_says(start_gateway, watch, base_path):
    gateway = start_gateway(env=ha_env(base_path))
    live = watch(f"{base_path}/#")
    prefix = f"{base_path}/ha"
    node = base_path.replace("/", "_") + "_CP1"

    async def session():
        async with connected(gateway.url("CP1")) as cp:
            started = await cp.call(call.StartTransaction(connector_id=1, id_tag="TAG-OK", meter_start=0, timestamp=now()))
            # The remote_stop button is the last base entity announced: once it is here, all controls are.
            await asyncio.to_thread(live.wait, f"{prefix}/button/{node}/remote_stop/config")
            controls = {t.split("/")[-2]: c for t, c in configs(live, prefix, node).items() if "command_topic" in c}
            presses = []
            for name in sorted(controls):
                config = controls[name]
                if "payload_press" in config:
                    presses.append((name, config["command_topic"], config["payload_press"]))
                elif "options" in config:
                    presses.append((name, config["command_topic"], "Inoperative"))
                elif "min" in config:
                    presses.append((name, config["command_topic"], "16"))
                else:
                    presses.append((name, config["command_topic"], config["payload_off"]))
            for name, topic, payload in presses:
                mark = live.mark()
                live.publish(topic, payload)
                await asyncio.to_thread(live.wait, f"{base_path}/CP1/cmd_result/status", None, 10, mark)
            blocked = (await cp.call(call.Authorize(id_tag="TAG-OK"))).id_tag_info["status"]
            return sorted(controls), cp.received, blocked, started.transaction_id

    names, received, blocked, transaction_id = run(session(), timeout=60)
    assert names == ["availability", "charging_enabled", "max_current", "remote_start", "remote_stop", "reset_hard",
                     "reset_soft", "unlock"]
    calls = dict((name, fields) for name, fields in received if name != "Reset")
    assert calls["ChangeAvailability"] == {"connector_id": 0, "type": "Inoperative"}
    profile = calls["SetChargingProfile"]
    assert profile["connector_id"] == 0
    assert profile["cs_charging_profiles"]["charging_profile_purpose"] == "TxDefaultProfile"
    assert profile["cs_charging_profiles"]["charging_schedule"]["charging_rate_unit"] == "A"
    assert profile["cs_charging_profiles"]["charging_schedule"]["charging_schedule_period"] == [{"start_period": 0, "limit": 16}]
    assert calls["RemoteStartTransaction"] == {"id_tag": "ha-remote", "connector_id": 1}
    assert calls["RemoteStopTransaction"] == {"transaction_id": transaction_id}
    assert calls["UnlockConnector"] == {"connector_id": 1}
    assert sorted(fields["type"] for name, fields in received if name == "Reset") == ["Hard", "Soft"]
    assert blocked == "Blocked"  # the switch was turned OFF
    # Select and number show what was applied.
    assert live.latest(f"{base_path}/CP1/state/availability") == "Inoperative"
    assert live.latest(f"{base_path}/CP1/state/max_current") == "16"
    assert live.latest(f"{base_path}/CP1/state/charging_enabled") == "OFF"


def test_a_bad_control_value_gets_an_error_result(start_gateway, watch, base_path):
    gateway = start_gateway(env=ha_env(base_path, OCPP_MAX_CURRENT="20"))
    live = watch(f"{base_path}/#")
    subscribed(watch, base_path)

    async def session():
        async with connected(gateway.url("CP1")) as cp:
            await asyncio.to_thread(gateway.event, "connected", "CP1")
            live.publish(f"{base_path}/CP1/set/max_current", "25")
            document = await asyncio.to_thread(live.wait_json, f"{base_path}/CP1/cmd_result")
            return document, cp.received

    document, received = run(session())
    assert document["status"] == "error" and document["error"]["code"] == "InvalidArguments"
    assert "0 to 20" in document["error"]["description"]
    assert received == []


def test_bridge_info_stations_and_requests(start_gateway, watch, base_path):
    gateway = start_gateway(env=ha_env(base_path, AUTHORIZED_TAG_ID_LIST='["secret-tag-123"]', MQTT_USERNAME="",
                                       EXPECTED_CHARGE_POINTS='["STREET"]'))
    live = watch(f"{base_path}/#")
    info = json.loads(live.wait(f"{base_path}/bridge/info"))
    assert info["version"] and info["mqtt"]["base_path"] == base_path
    assert "secret-tag-123" not in json.dumps(info) and "password" not in json.dumps(info).lower()
    prefix = f"{base_path}/ha"
    node = base_path.replace("/", "_") + "_CP1"

    async def session():
        async with connected(gateway.url("CP1")) as cp:
            await cp.call(call.BootNotification(charge_point_vendor="Acme", charge_point_model="Wallbox"))
            stations = await asyncio.to_thread(live.wait_json_list, f"{base_path}/bridge/stations",
                                               lambda items: any(s.get("vendor") == "Acme" for s in items))
            live.publish(f"{base_path}/bridge/request/health_check", json.dumps({"transaction": 7}))
            health = await asyncio.to_thread(live.wait_json, f"{base_path}/bridge/response/health_check")
            return stations, health

    stations, health = run(session())
    by_id = {s["id"]: s for s in stations}
    assert by_id["CP1"]["connection_state"] == "CONNECTED" and by_id["CP1"]["model"] == "Wallbox"
    assert by_id["STREET"]["connection_state"] == "DISCONNECTED"
    assert health == {"status": "ok", "transaction": 7, "data": {"healthy": True, "stations_connected": 1, "stations_known": 2}}

    # forget_station removes the station's entities from Home Assistant: a subscriber that comes later
    # finds retained configs before, and none after.
    def retained_configs():
        later = watch(f"{base_path}/#")
        later.publish(f"{base_path}/marker", "end")  # delivered after the retained messages of the subscription
        later.wait(f"{base_path}/marker", "end")
        return configs(later, prefix, node)

    assert len(retained_configs()) == 21
    live.publish(f"{base_path}/bridge/request/forget_station", json.dumps({"station": "CP1", "transaction": "f"}))
    forgotten = live.wait_json(f"{base_path}/bridge/response/forget_station")
    assert forgotten["status"] == "ok" and forgotten["data"]["removed_entities"] == 21
    assert retained_configs() == {}

    live.publish(f"{base_path}/bridge/request/make_coffee", "")
    assert live.wait_json(f"{base_path}/bridge/response/make_coffee")["status"] == "error"


def test_after_a_restart_stations_keep_their_facts_and_can_be_forgotten(start_gateway, watch, base_path, tmp_path):
    data = tmp_path / "kept"
    data.mkdir()
    env = ha_env(base_path, EXPECTED_CHARGE_POINTS='["STREET"]')
    prefix = f"{base_path}/ha"
    node = base_path.replace("/", "_") + "_CP1"
    gateway = start_gateway(env=env, data_dir=data)
    live = watch(f"{base_path}/#")

    async def boot():
        async with connected(gateway.url("CP1")) as cp:
            await cp.call(call.BootNotification(charge_point_vendor="Acme", charge_point_model="Wallbox", firmware_version="1.2"))
            await asyncio.to_thread(live.wait_json_list, f"{base_path}/bridge/stations",
                                    lambda items: any(s.get("vendor") == "Acme" for s in items))

    run(boot())
    assert live.wait(f"{base_path}/STREET/state/service_started").endswith("Z")
    assert gateway.stop() == 0

    # The next run knows CP1 only from its store: bridge/stations lists what the store remembers of it.
    restarted = start_gateway(env=env, data_dir=data)
    later = watch(f"{base_path}/#")
    stations = later.wait_json_list(f"{base_path}/bridge/stations", lambda items: any(s["id"] == "CP1" for s in items))
    cp1 = {s["id"]: s for s in stations}["CP1"]
    assert (cp1["connection_state"], cp1["vendor"], cp1["model"], cp1["firmware_version"]) == ("DISCONNECTED", "Acme", "Wallbox", "1.2")
    assert cp1["last_seen"].endswith("Z")

    # forget_station removes the entities the earlier run announced.
    def retained_configs():
        watcher = watch(f"{base_path}/#")
        watcher.publish(f"{base_path}/marker", "end")
        watcher.wait(f"{base_path}/marker", "end")
        return configs(watcher, prefix, node)

    assert len(retained_configs()) == 21
    later.publish(f"{base_path}/bridge/request/forget_station", json.dumps({"station": "CP1"}))
    forgotten = later.wait_json(f"{base_path}/bridge/response/forget_station")
    assert forgotten["status"] == "ok" and forgotten["data"]["removed_entities"] >= 21
    assert retained_configs() == {}
    assert restarted.stop() == 0
