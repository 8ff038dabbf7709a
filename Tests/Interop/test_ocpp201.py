"""OCPP 2.0.1 chargers on the same MQTT contract as 1.6 ones (docs/ocpp201.md), with the Python `ocpp` package's
v201.ChargePoint as the charging station: it checks every message both ways against the official 2.0.1 schemas."""
import asyncio
import json
import urllib.request

import pytest
import websockets

from chargepoint import connected, run
from chargepoint201 import connected201, energy, now
from conftest import subscribed
from test_home_assistant import configs, ha_env


def command(live, station_topic, action, args=None, request_id="r"):
    """Publishes a command and waits for its result document."""
    mark = live.mark()
    live.publish(f"{station_topic}/cmd", json.dumps({"action": action, "args": args or {}, "request_id": request_id}))
    return live.wait_json(f"{station_topic}/cmd_result", after=mark, request_id=request_id, timeout=15)


async def in_thread(function, *args, **kwargs):
    return await asyncio.to_thread(function, *args, **kwargs)


def test_negotiation_offers_both_versions_and_keeps_1_6_for_chargers_that_offer_both(start_gateway, base_path, watch, tmp_path):
    gateway = start_gateway()
    live = watch(f"{base_path}/#")

    async def session():
        async with websockets.connect(gateway.url("A"), subprotocols=["ocpp2.0.1"]) as socket:
            assert socket.subprotocol == "ocpp2.0.1"
        async with websockets.connect(gateway.url("B"), subprotocols=["ocpp1.6", "ocpp2.0.1"]) as socket:
            assert socket.subprotocol == "ocpp1.6"  # the default order: existing users' chargers stay on 1.6
        async with websockets.connect(gateway.url("C")) as socket:
            assert socket.subprotocol is None  # none offered: 1.6
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            async with websockets.connect(gateway.url("D"), subprotocols=["ocpp2.1"]):
                pass
        assert refused.value.response.status_code == 400
        async with connected201(gateway.url("CS1")):
            await in_thread(live.wait, f"{base_path}/CS1/state/ocpp_version", "2.0.1")

    run(session())
    gateway.wait_for_log("OCPP 2.0.1 chargers may connect without a password")
    with urllib.request.urlopen(f"http://127.0.0.1:{gateway.admin_port}/api/stations", timeout=5) as response:
        stations = {entry["id"]: entry for entry in json.load(response)}
    assert stations["CS1"]["ocpp_version"] == "2.0.1"
    assert stations["CS1"]["vendor"] == "Acme Energy"
    listed = live.wait_json_list(f"{base_path}/bridge/stations", lambda entries: any(e.get("ocpp_version") == "2.0.1" for e in entries))
    assert [e["id"] for e in listed if e.get("ocpp_version") == "2.0.1"] == ["CS1"]

    (tmp_path / "second").mkdir()
    preferring = start_gateway(env={"OCPP_VERSIONS": "ocpp2.0.1,ocpp1.6"}, data_dir=tmp_path / "second")

    async def preferred():
        async with websockets.connect(preferring.url("B"), subprotocols=["ocpp1.6", "ocpp2.0.1"]) as socket:
            assert socket.subprotocol == "ocpp2.0.1"

    run(preferred())


def test_a_remote_start_charges_and_stops_like_a_1_6_charger(start_gateway, watch, base_path):
    gateway = start_gateway(env=ha_env(base_path))
    live = watch(f"{base_path}/#")
    subscribed(watch, base_path)
    s = f"{base_path}/CS1"
    c1 = f"{s}/state"  # EVSE 1 of a one-EVSE station: the flat topics only (MQTT_CONNECTOR_1_TOPICS=auto)

    async def session():
        async with connected201(gateway.url("CS1")) as cs:
            await cs.status("Available")
            await in_thread(live.wait, f"{c1}/status", "Available")
            result = await in_thread(command, live, s, "remote_start_transaction", {"id_tag": "guest-7", "connector_id": 1})
            assert result["status"] == "ok" and result["response"]["status"] == "Accepted", result
            (action, request), = [r for r in cs.received if r[0] == "RequestStartTransaction"]
            assert request["id_token"] == {"id_token": "guest-7", "type": "Central"} and request["evse_id"] == 1
            token = {"id_token": "guest-7", "type": "Central"}
            started = await cs.transaction("Started", "tx-1", 0, trigger="RemoteStart", id_token=token,
                                           remote_start_id=request["remote_start_id"],
                                           meter=energy(10.0, unit="kWh", context="Transaction.Begin"))
            assert started.id_token_info["status"] == "Accepted"  # the remote start's token
            await cs.status("Occupied")
            await cs.transaction("Updated", "tx-1", 1, trigger="ChargingStateChanged", charging_state="Charging",
                                 meter=energy(12.5, multiplier=3))  # 12.5 × 10³ Wh
            await in_thread(live.wait, f"{c1}/status", "Charging")
            await in_thread(live.wait, f"{c1}/session_energy", "2500")
            # Stopped from MQTT: Home Assistant's stop button, on EVSE 1's open transaction.
            live.publish(f"{s}/set/remote_stop", "1")
            for _ in range(100):
                if any(action == "RequestStopTransaction" for action, _ in cs.received):
                    break
                await asyncio.sleep(0.05)
            (_, stop), = [r for r in cs.received if r[0] == "RequestStopTransaction"]
            assert stop == {"transaction_id": "tx-1"}
            await cs.transaction("Ended", "tx-1", 2, trigger="RemoteStop", stopped_reason="Remote",
                                 meter=energy(13000, context="Transaction.End"))
            await in_thread(live.wait, f"{c1}/transaction_id", "")
            await cs.status("Available")
            await in_thread(live.wait, f"{c1}/status", "Available")
            # A second transaction numbers its events from 0 again: it applies.
            await cs.transaction("Started", "tx-2", 0, trigger="Authorized", id_token={"id_token": "TAG-OK", "type": "ISO14443"},
                                 meter=energy(13000, context="Transaction.Begin"))
            await in_thread(live.wait, f"{c1}/transaction_id", "tx-2")

    run(session())
    values = {topic: live.latest(topic) for topic in live.topics()}
    assert values[f"{s}/state/charge_point_vendor"] == "Acme Energy"
    assert values[f"{s}/state/charge_point_model"] == "W201"
    assert values[f"{s}/state/firmware_version"] == "2.0.1-a"
    assert values[f"{s}/state/ocpp_version"] == "2.0.1"
    history = [p for t, p, _ in live.messages if t == f"{c1}/status"]
    assert "Finishing" in history[history.index("Charging"):]  # Occupied after the end: Finishing
    assert live.wait(f"{c1}/meter_start", "10000") and live.wait(f"{c1}/meter_stop", "13000")
    assert live.wait(f"{c1}/session_energy", "3000")
    assert live.wait(f"{c1}/meter_stop_reason", "Remote")
    assert live.wait(f"{c1}/transaction_id", "tx-1")
    assert live.wait(f"{c1}/id_tag", "guest-7") and live.wait(f"{c1}/id_token_type", "Central")
    assert live.wait(f"{c1}/charging_state", "Charging") and live.wait(f"{c1}/connector_status", "Occupied")
    assert live.wait(f"{c1}/evse_id", "1")
    assert live.wait(f"{c1}/energy_active_import_register", "12500")
    # Connector 1 also on the flat topics, as for 1.6.
    assert live.wait(f"{s}/state/status", "Charging")
    # Home Assistant: the same device and entities as a 1.6 charger's.
    node = base_path.replace("/", "_") + "_CS1"
    live.wait(f"{base_path}/ha/sensor/{node}/status/config")
    found = configs(live, f"{base_path}/ha", node)
    device = next(iter(found.values()))["device"]
    assert device["manufacturer"] == "Acme Energy" and device["model"] == "W201"
    # The history: under the charger's id, with who started it.
    with urllib.request.urlopen(f"http://127.0.0.1:{gateway.admin_port}/api/transactions?station=CS1", timeout=5) as response:
        history = json.load(response)
    assert [(t["transaction_id"], t["connector_id"], t["meter_start_wh"], t["meter_stop_wh"], t["energy_wh"], t["stop_reason"], t["provider"])
            for t in history] == [("tx-1", 1, 10000, 13000, 3000, "Remote", "mqtt")]
    for entity in ("sensor/{n}/energy", "sensor/{n}/session_energy", "sensor/{n}/status", "binary_sensor/{n}/charging",
                   "button/{n}/remote_start", "number/{n}/max_current", "switch/{n}/charging_enabled"):
        assert f"{base_path}/ha/{entity.format(n=node)}/config" in found, entity


def test_events_apply_in_seq_no_order_and_an_offline_backlog_keeps_its_time(start_gateway, watch, base_path):
    gateway = start_gateway()
    live = watch(f"{base_path}/#")
    c1 = f"{base_path}/CS1/state"
    tag = {"id_token": "TAG-OK", "type": "ISO14443"}

    async def session():
        async with connected201(gateway.url("CS1")) as cs:
            await cs.transaction("Started", "tx-a", 0, trigger="Authorized", id_token=tag,
                                 meter=energy(1000, context="Transaction.Begin"))
            await cs.transaction("Updated", "tx-a", 2, charging_state="Charging", meter=energy(3000))
            await in_thread(live.wait, f"{c1}/energy_active_import_register", "3000")
            mark = live.mark()
            # Older (seqNo 1, read before seqNo 2) and a duplicate: answered, and they move nothing back.
            await cs.transaction("Updated", "tx-a", 1, charging_state="SuspendedEV", meter=energy(2000, timestamp=now(-5)))
            await cs.transaction("Updated", "tx-a", 2, charging_state="Charging", meter=energy(3000))
            await cs.transaction("Ended", "tx-a", 3, trigger="StopAuthorized", stopped_reason="Local", meter=energy(3500))
            await in_thread(live.wait, f"{c1}/transaction_id", "", after=mark)
            # After Ended nothing revives the transaction.
            await cs.transaction("Updated", "tx-a", 4, charging_state="Charging", meter=energy(3600))
            await cs.status("Available")
            await in_thread(live.wait, f"{c1}/status", "Available", after=mark)
            return mark

    mark = run(session())
    after = [(t, p) for t, p, _ in live.messages[mark:] if t.startswith(c1 + "/")]
    assert (f"{c1}/energy_active_import_register", "2000") not in after
    assert (f"{c1}/status", "SuspendedEV") not in after and (f"{c1}/charging_state", "SuspendedEV") not in after
    assert (f"{c1}/transaction_id", "tx-a") not in after
    assert live.latest(f"{c1}/session_energy") == "2500" and live.latest(f"{c1}/meter_stop") == "3500"
    assert live.latest(f"{c1}/energy_active_import_register") == "3500"

    # The station was offline: its backlog comes after the reconnect, with the times things happened.
    started_at, ended_at = now(-3600), now(-1800)

    async def backlog():
        async with connected201(gateway.url("CS1")) as cs:
            await cs.transaction("Started", "tx-b", 0, trigger="Authorized", id_token=tag, offline=True, timestamp=started_at,
                                 meter=energy(3400, context="Transaction.Begin", timestamp=started_at))
            await cs.transaction("Ended", "tx-b", 1, trigger="EVCommunicationLost", offline=True, timestamp=ended_at,
                                 stopped_reason="EVDisconnected", meter=energy(3450, context="Transaction.End", timestamp=ended_at))
            await in_thread(live.wait, f"{c1}/meter_stop_reason", "EVDisconnected")

    run(backlog())
    assert live.latest(f"{c1}/meter_start_timestamp")[:16] == started_at.replace("+00:00", "Z")[:16]
    assert live.latest(f"{c1}/meter_stop") == "3450" and live.latest(f"{c1}/session_energy") == "50"
    # Readings older than the one published (3500, just now) are not published again.
    assert live.latest(f"{c1}/energy_active_import_register") == "3500"


def test_get_configuration_by_keys_and_whole_from_a_report_in_parts(start_gateway, watch, base_path):
    gateway = start_gateway()
    live = watch(f"{base_path}/#")
    subscribed(watch, base_path)
    s = f"{base_path}/CS1"

    async def session():
        async with connected201(gateway.url("CS1")) as cs:
            await in_thread(live.wait, f"{s}/state/connection_state", "CONNECTED")
            by_keys = await in_thread(command, live, s, "get_configuration", {"key": ["HeartbeatInterval", "Nope/Nothing"]}, "k")
            whole = await in_thread(command, live, s, "get_configuration", {}, "w")
            return by_keys, whole, cs.received

    by_keys, whole, received = run(session())
    assert by_keys["status"] == "ok", by_keys
    assert by_keys["response"]["configurationKey"] == [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
    assert by_keys["response"]["unknownKey"] == ["Nope/Nothing"]
    get_variables = [fields for action, fields in received if action == "GetVariables"][0]
    assert get_variables["get_variable_data"][0] == {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    assert whole["status"] == "ok", whole
    assert whole["response"]["configurationKey"] == [
        {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
        {"key": "MeterValueSampleInterval", "readonly": False, "value": "60"},
        {"key": "ChargingStation/Model", "readonly": True, "value": "W201"},
    ]
    assert [fields["report_base"] for action, fields in received if action == "GetBaseReport"] == ["FullInventory"]


def test_the_charging_switch_blocks_tokens(start_gateway, watch, base_path):
    gateway = start_gateway()
    live = watch(f"{base_path}/#")
    subscribed(watch, base_path)
    s = f"{base_path}/CS1"

    async def session():
        async with connected201(gateway.url("CS1")) as cs:
            from ocpp.v201 import call
            accepted = await cs.call(call.Authorize(id_token={"id_token": "TAG-OK", "type": "ISO14443"}))
            assert accepted.id_token_info["status"] == "Accepted"
            unknown = await cs.call(call.Authorize(id_token={"id_token": "stranger", "type": "ISO14443"}))
            assert unknown.id_token_info["status"] == "Invalid"
            result = await in_thread(command, live, s, "charging_enabled", "OFF")
            assert result["status"] == "ok"
            blocked = await cs.call(call.Authorize(id_token={"id_token": "TAG-OK", "type": "ISO14443"}))
            assert blocked.id_token_info["status"] == "Blocked"
            started = await cs.transaction("Started", "tx-x", 0, trigger="Authorized",
                                           id_token={"id_token": "TAG-OK", "type": "ISO14443"})
            assert started.id_token_info["status"] == "Blocked"
            await in_thread(live.wait, f"{s}/state/authorize", "Blocked")

    run(session())


def test_malformed_frames_get_2_0_1_error_names_and_the_connection_stays_up(gateway):
    async def session():
        async with websockets.connect(gateway.url("RAW"), subprotocols=["ocpp2.0.1"]) as socket:
            async def exchange(text):
                await socket.send(text)
                return json.loads(await asyncio.wait_for(socket.recv(), 5))

            answers = {
                "not json": await exchange("not json"),
                "format": await exchange('[2,"m1","Heartbeat",{"unexpected":1}]'),
                "missing": await exchange('[2,"m2","BootNotification",{"reason":"PowerUp"}]'),
                "type": await exchange('[2,"m3","Heartbeat",[]]'),
                "unknown action": await exchange('[2,"m4","FooBar",{}]'),
                "message type": await exchange('[7,"m5","Heartbeat",{}]'),
                "enum": await exchange('[2,"m6","StatusNotification",{"timestamp":"2026-01-01T00:00:00Z",'
                                       '"connectorStatus":"Sleeping","evseId":1,"connectorId":1}]'),
                "wrong direction": await exchange('[2,"m7","Reset",{"type":"Immediate"}]'),
                "custom data": await exchange('[2,"m8","Heartbeat",{"customData":{"vendorId":"acme","x":1}}]'),
                "wrong type": await exchange('[2,"m9","StatusNotification",{"timestamp":"2026-01-01T00:00:00Z",'
                                             '"connectorStatus":"Available","evseId":"one","connectorId":1}]'),
            }
            return answers

    answers = run(session())
    assert answers["not json"][:3] == [4, "-1", "RpcFrameworkError"]
    assert answers["format"][:3] == [4, "m1", "FormatViolation"]  # a member the schema does not have
    assert answers["missing"][:3] == [4, "m2", "OccurrenceConstraintViolation"]
    assert answers["type"][:3] == [4, "m3", "FormatViolation"]  # a payload that is not an object
    assert answers["unknown action"][:3] == [4, "m4", "NotImplemented"]
    assert answers["message type"][:3] == [4, "m5", "MessageTypeNotSupported"]
    assert answers["enum"][:3] == [4, "m6", "PropertyConstraintViolation"]
    assert answers["wrong direction"][:3] == [4, "m7", "NotSupported"]
    assert answers["custom data"][0] == 3  # customData is accepted everywhere
    assert answers["wrong type"][:3] == [4, "m9", "TypeConstraintViolation"]
    assert gateway.alive()


def test_every_translated_command_reaches_the_charger_as_the_spec_call(start_gateway, watch, base_path):
    gateway = start_gateway()
    live = watch(f"{base_path}/#")
    subscribed(watch, base_path)
    s = f"{base_path}/CS1"
    table = [
        ("reset", {"type": "Hard"}, "Reset", {"type": "Immediate"}),
        ("reset", {"type": "OnIdle"}, "Reset", {"type": "OnIdle"}),  # 2.0.1's own arguments
        ("unlock_connector", {"connector_id": 1}, "UnlockConnector", {"evse_id": 1, "connector_id": 1}),
        ("change_availability", {"connector_id": 0, "type": "Inoperative"}, "ChangeAvailability", {"operational_status": "Inoperative"}),
        ("change_availability", {"connector_id": 1, "type": "Operative"}, "ChangeAvailability",
         {"operational_status": "Operative", "evse": {"id": 1}}),
        ("trigger_message", {"requested_message": "StatusNotification", "connector_id": 1}, "TriggerMessage",
         {"requested_message": "StatusNotification", "evse": {"id": 1, "connector_id": 1}}),
        ("change_configuration", {"key": "HeartbeatInterval", "value": "120"}, "SetVariables",
         {"set_variable_data": [{"attribute_value": "120", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}),
        ("change_configuration", {"key": "TxCtrlr/EVConnectionTimeOut", "value": "90"}, "SetVariables",
         {"set_variable_data": [{"attribute_value": "90", "component": {"name": "TxCtrlr"}, "variable": {"name": "EVConnectionTimeOut"}}]}),
        ("clear_charging_profile", {"connector_id": 1, "charging_profile_purpose": "TxDefaultProfile"}, "ClearChargingProfile",
         {"charging_profile_criteria": {"evse_id": 1, "charging_profile_purpose": "TxDefaultProfile"}}),
        ("get_composite_schedule", {"connector_id": 1, "duration": 600}, "GetCompositeSchedule", {"evse_id": 1, "duration": 600}),
        ("clear_cache", {}, "ClearCache", {}),
        ("data_transfer", {"vendor_id": "acme", "data": "ping"}, "DataTransfer", {"vendor_id": "acme", "data": "ping"}),
        ("remote_stop_transaction", {"transaction_id": "tx-77"}, "RequestStopTransaction", {"transaction_id": "tx-77"}),
        ("remote_stop_transaction", {"transaction_id": 42}, "RequestStopTransaction", {"transaction_id": "42"}),
        ("get_transaction_status", {"transaction_id": "tx-77"}, "GetTransactionStatus", {"transaction_id": "tx-77"}),
        ("GetVariables", {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]},
         "GetVariables", {"get_variable_data": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}),
        ("request_start_transaction", {"id_token": {"id_token": "x1", "type": "Central"}, "remote_start_id": 5, "evse_id": 1},
         "RequestStartTransaction", {"id_token": {"id_token": "x1", "type": "Central"}, "remote_start_id": 5, "evse_id": 1}),
    ]

    async def session():
        async with connected201(gateway.url("CS1")) as cs:
            await in_thread(live.wait, f"{s}/state/connection_state", "CONNECTED")
            results = []
            for index, (name, args, _, _) in enumerate(table):
                results.append(await in_thread(command, live, s, name, args, f"t{index}"))
            # The max_current control: a charging profile on EVSE 0.
            live.publish(f"{s}/set/max_current", "16")
            await in_thread(live.wait, f"{s}/state/max_current", "16")
            return results, cs.received

    results, received = run(session())
    for (name, args, action, expected), result in zip(table, results):
        assert result["status"] == "ok", (name, result)
    calls = [r for r in received]
    for index, (name, args, action, expected) in enumerate(table):
        assert calls[index] == (action, expected), (name, calls[index])
    action, profile = calls[len(table)]
    assert action == "SetChargingProfile" and profile["evse_id"] == 0
    assert profile["charging_profile"]["charging_profile_purpose"] == "TxDefaultProfile"
    assert profile["charging_profile"]["charging_schedule"][0]["charging_schedule_period"] == [{"start_period": 0, "limit": 16.0}]


def test_a_2_0_1_call_to_a_1_6_station_and_bad_2_0_1_arguments_are_refused(start_gateway, watch, base_path):
    gateway = start_gateway()
    live = watch(f"{base_path}/#")
    subscribed(watch, base_path)

    async def session():
        async with connected(gateway.url("CP16")):
            await in_thread(live.wait, f"{base_path}/CP16/state/connection_state", "CONNECTED")
            return await in_thread(command, live, f"{base_path}/CP16", "get_transaction_status", {"transaction_id": "t"})

    refused = run(session())
    assert refused["status"] == "error" and refused["error"]["code"] == "InvalidArguments"
    assert "speaks OCPP 1.6" in refused["error"]["description"]
    bad = command(live, f"{base_path}/CP16", "request_start_transaction", {"id_token": {"id_token": "x"}}, "bad")
    assert bad["error"]["code"] == "InvalidArguments" and "OCPP 2.0.1 RequestStartTransaction" in bad["error"]["description"]


def test_a_transaction_goes_on_across_a_gateway_restart(start_gateway, watch, base_path, tmp_path):
    """Schema 10: the open transaction is kept: after the restart its session energy counts from where it started, it
    is not taken for a new one, and its events keep their order."""
    live = watch(f"{base_path}/#")
    c1 = f"{base_path}/CS1/state"
    tag = {"id_token": "TAG-OK", "type": "ISO14443"}
    gateway = start_gateway()

    async def before():
        async with connected201(gateway.url("CS1")) as cs:
            await cs.transaction("Started", "long-1", 0, trigger="Authorized", id_token=tag, meter=energy(2000, context="Transaction.Begin"))
            await cs.transaction("Updated", "long-1", 1, charging_state="Charging", meter=energy(2500))
            await in_thread(live.wait, f"{c1}/session_energy", "500")

    run(before())
    gateway.stop()
    restarted = start_gateway()
    mark = live.mark()

    async def after():
        async with connected201(restarted.url("CS1")) as cs:
            await cs.transaction("Updated", "long-1", 2, charging_state="Charging", meter=energy(3200))
            await in_thread(live.wait, f"{c1}/session_energy", "1200", after=mark)
            await cs.transaction("Updated", "long-1", 2, charging_state="SuspendedEV", meter=energy(3200))  # a duplicate
            await cs.transaction("Ended", "long-1", 3, trigger="StopAuthorized", stopped_reason="Local", meter=energy(3300, context="Transaction.End"))
            await in_thread(live.wait, f"{c1}/meter_stop", "3300", after=mark)

    run(after())
    published = [(t, p) for t, p, _ in live.messages[mark:]]
    assert (f"{c1}/charging_state", "SuspendedEV") not in published
    assert (f"{c1}/meter_start_timestamp", live.latest(f"{c1}/meter_start_timestamp")) not in published  # not started again
    assert live.latest(f"{c1}/session_energy") == "1300"
