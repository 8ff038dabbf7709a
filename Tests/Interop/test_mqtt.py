"""The MQTT contract against a real mosquitto, with the Python ocpp charge point (docs/mqtt-api.md)."""
import asyncio

import pytest
import json

from ocpp.v16 import call

from chargepoint import connected, hello, now, run
from conftest import subscribed


def meter(values, connector=1, transaction=None):
    return call.MeterValues(connector_id=connector, transaction_id=transaction,
                            meter_value=[{"timestamp": now(), "sampledValue": values}])


def test_a_chargers_whole_life_on_mqtt(start_gateway, watch, base_path, broker):
    gateway = start_gateway()
    live = watch(f"{base_path}/#")
    s = f"{base_path}/CP1"
    live.wait(f"{base_path}/bridge/state", "online")

    async def life():
        async with connected(gateway.url("CP1")) as cp:
            await cp.call(call.BootNotification(charge_point_vendor="Acme", charge_point_model="Wallbox",
                                                firmware_version="1.2.3", charge_point_serial_number="S-1"))
            await cp.call(call.Heartbeat())
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))
            await cp.call(call.Authorize(id_tag="TAG-OK"))
            started = await cp.call(call.StartTransaction(connector_id=1, id_tag="TAG-OK", meter_start=10000, timestamp=now()))
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
            await cp.call(meter([
                {"value": "10.5", "unit": "kWh"},
                {"value": "11.04", "measurand": "Power.Active.Import", "unit": "kW"},
                {"value": "16", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
                {"value": "15.5", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
                {"value": "16.2", "measurand": "Current.Import", "phase": "L3", "unit": "A"},
                {"value": "230", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
                {"value": "55", "measurand": "SoC", "location": "EV", "unit": "Percent"},
            ], transaction=started.transaction_id))
            await cp.call(meter([{"value": "2.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"}], connector=2))
            await cp.call(call.StopTransaction(meter_stop=12500, timestamp=now(), transaction_id=started.transaction_id,
                                               reason="EVDisconnected"))
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
            return started.transaction_id

    transaction_id = run(life())
    live.wait(f"{s}/state/connection_state", "DISCONNECTED")
    # A subscriber that comes later gets the whole state from the retained messages.
    later = watch(f"{s}/#")
    expected = {
        "state/connection_state": "DISCONNECTED", "state/disconnect_reason": "normal_closure",
        "state/charge_point_vendor": "Acme", "state/charge_point_model": "Wallbox", "state/firmware_version": "1.2.3",
        "state/charge_point_serial_number": "S-1", "state/heartbeat": "ON", "state/authorize": "Accepted",
        "state/status": "Available", "state/error_code": "NoError", "state/connector_id": "1",
        "state/charging": "OFF", "state/plugged": "OFF", "state/charging_enabled": "ON",
        "state/meter_start": "10000", "state/meter_stop": "12500", "state/meter_stop_reason": "EVDisconnected",
        "state/session_energy": "2500", "state/energy_active_import_register": "10500",
        "state/power_active_import": "0", "state/current_import_l1": "0", "state/current_import_l2": "0",
        "state/current_import_l3": "0", "state/voltage_l1": "230", "state/soc": "55", "state/transaction_id": "",
        "connector/1/state/status": "Available", "connector/1/state/meter_stop": "12500",
        "connector/2/state/energy_active_import_register": "2500",
    }
    for topic, payload in expected.items():
        if payload == "":
            continue  # an empty retained payload clears the topic: nothing to receive
        assert later.wait(f"{s}/{topic}", timeout=5) == payload, topic
    assert f"{s}/state/transaction_id" not in later.topics()
    for topic in ("state/last_connected", "state/last_disconnected", "state/last_seen", "state/meter_start_timestamp",
                  "state/meter_stop_timestamp"):
        assert later.wait(f"{s}/{topic}").endswith("Z"), topic
    # Connector 2 never mirrors onto the flat topics.
    assert live.latest(f"{s}/state/energy_active_import_register") == "10500"
    # While charging, the live values were there and the transaction id was published.
    assert live.wait(f"{s}/state/transaction_id", str(transaction_id))
    assert live.wait(f"{s}/state/power_active_import", "11040")
    assert live.wait(f"{s}/state/charging", "ON")


def test_expected_charge_points_start_disconnected_and_stations_are_isolated(start_gateway, watch, base_path):
    gateway = start_gateway(env={"EXPECTED_CHARGE_POINTS": '["GARAGE","STREET"]'})
    live = watch(f"{base_path}/#")
    assert live.wait(f"{base_path}/GARAGE/state/connection_state") == "DISCONNECTED"
    assert live.wait(f"{base_path}/STREET/state/connection_state") == "DISCONNECTED"

    async def two():
        async with connected(gateway.url("GARAGE")) as garage, connected(gateway.url("STREET")) as street:
            await garage.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
            await street.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Faulted"))
            live.publish(f"{base_path}/GARAGE/cmd", json.dumps({"action": "reset", "args": {"type": "Soft"}}))
            await asyncio.to_thread(live.wait, f"{base_path}/GARAGE/cmd_result/status", "Accepted")
            return garage.received, street.received

    garage_got, street_got = run(two())
    assert garage_got == [("Reset", {"type": "Soft"})] and street_got == []
    assert live.latest(f"{base_path}/GARAGE/state/status") == "Charging"
    assert live.latest(f"{base_path}/STREET/state/status") == "Faulted"
    assert f"{base_path}/STREET/cmd_result/status" not in live.topics()


# Every central-system operation, with snake_case args, and what the charge point must receive.
COMMANDS = [
    ("cancel_reservation", {"reservation_id": 3}, "CancelReservation", {"reservation_id": 3}),
    ("change_availability", {"connector_id": 1, "type": "Inoperative"}, "ChangeAvailability", {"connector_id": 1, "type": "Inoperative"}),
    ("change_configuration", {"key": "HeartbeatInterval", "value": "60"}, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}),
    ("clear_cache", {}, "ClearCache", {}),
    ("clear_charging_profile", {"id": 7, "connector_id": 1}, "ClearChargingProfile", {"id": 7, "connector_id": 1}),
    ("data_transfer", {"vendor_id": "com.acme", "message_id": "ping", "data": "x"}, "DataTransfer", {"vendor_id": "com.acme", "message_id": "ping", "data": "x"}),
    ("get_composite_schedule", {"connector_id": 1, "duration": 3600, "charging_rate_unit": "A"}, "GetCompositeSchedule", {"connector_id": 1, "duration": 3600, "charging_rate_unit": "A"}),
    ("get_configuration", {"key": ["HeartbeatInterval"]}, "GetConfiguration", {"key": ["HeartbeatInterval"]}),
    ("get_diagnostics", {"location": "ftp://example.com/up", "retries": 2}, "GetDiagnostics", {"location": "ftp://example.com/up", "retries": 2}),
    ("get_local_list_version", {}, "GetLocalListVersion", {}),
    ("get_local_version", {}, "GetLocalListVersion", {}),
    ("remote_start_transaction", {"id_tag": "guest", "connector_id": 1}, "RemoteStartTransaction", {"id_tag": "guest", "connector_id": 1}),
    ("remote_stop_transaction", {"transaction_id": 42}, "RemoteStopTransaction", {"transaction_id": 42}),
    ("reserve_now", {"connector_id": 1, "expiry_date": "2026-11-21T20:00:00Z", "id_tag": "guest", "reservation_id": 3},
     "ReserveNow", {"connector_id": 1, "expiry_date": "2026-11-21T20:00:00Z", "id_tag": "guest", "reservation_id": 3}),
    ("reset", {"type": "Hard"}, "Reset", {"type": "Hard"}),
    ("send_local_list", {"list_version": 2, "update_type": "Full", "local_authorization_list": [{"id_tag": "A", "id_tag_info": {"status": "Accepted"}}]},
     "SendLocalList", {"list_version": 2, "update_type": "Full", "local_authorization_list": [{"id_tag": "A", "id_tag_info": {"status": "Accepted"}}]}),
    ("set_charging_profile", {"connector_id": 1, "cs_charging_profiles": {
        "charging_profile_id": 1, "stack_level": 0, "charging_profile_purpose": "TxDefaultProfile", "charging_profile_kind": "Absolute",
        "charging_schedule": {"charging_rate_unit": "A", "charging_schedule_period": [{"start_period": 0, "limit": 16}]}}},
     "SetChargingProfile", {"connector_id": 1, "cs_charging_profiles": {
         "charging_profile_id": 1, "stack_level": 0, "charging_profile_purpose": "TxDefaultProfile", "charging_profile_kind": "Absolute",
         "charging_schedule": {"charging_rate_unit": "A", "charging_schedule_period": [{"start_period": 0, "limit": 16}]}}}),
    ("trigger_message", {"requested_message": "StatusNotification", "connector_id": 1}, "TriggerMessage", {"requested_message": "StatusNotification", "connector_id": 1}),
    ("unlock_connector", {"connector_id": 1}, "UnlockConnector", {"connector_id": 1}),
    ("update_firmware", {"location": "https://example.com/fw.bin", "retrieve_date": "2026-11-22T00:00:00Z"},
     "UpdateFirmware", {"location": "https://example.com/fw.bin", "retrieve_date": "2026-11-22T00:00:00Z"}),
]


def test_every_operation_reaches_the_charge_point_and_its_result_is_published(start_gateway, watch, base_path):
    gateway = start_gateway()
    live = watch(f"{base_path}/CP1/#")
    result_topic = f"{base_path}/CP1/cmd_result"
    subscribed(watch, base_path)

    async def session():
        async with connected(gateway.url("CP1")) as cp:
            await asyncio.to_thread(gateway.event, "connected", "CP1")
            documents = []
            for index, (action, args, _, _) in enumerate(COMMANDS):
                live.publish(f"{base_path}/CP1/cmd", json.dumps({"action": action, "args": args, "request_id": f"r{index}"}))
                documents.append(await asyncio.to_thread(live.wait_json, result_topic, request_id=f"r{index}"))
            return cp.received, documents

    received, documents = run(session(), timeout=60)
    assert [(name, fields) for name, fields in received] == [(name, fields) for _, _, name, fields in COMMANDS]
    for (action, _, _, _), document in zip(COMMANDS, documents):
        assert document["status"] == "ok", document
        assert document["action"] == ("get_local_list_version" if action == "get_local_version" else action)
        assert document["station"] == "CP1"
    by_action = {d["action"]: d for d in documents}
    assert by_action["get_configuration"]["response"]["configurationKey"][1] == {"key": "NumberOfConnectors", "readonly": True, "value": "2"}
    assert by_action["get_local_list_version"]["response"] == {"listVersion": 3}
    assert by_action["change_configuration"]["response"] == {"status": "RebootRequired"}
    # ocpp2mqtt's per-field topics hold the last result.
    assert live.wait(f"{result_topic}/status", "RebootRequired")  # change_configuration's own status
    assert live.latest(f"{result_topic}/status") == "ok"  # update_firmware's response has no status
    assert live.latest(f"{result_topic}/action") == "update_firmware"
    assert json.loads(live.latest(f"{result_topic}/configuration_key"))[0]["key"] == "HeartbeatInterval"
    assert live.latest(f"{result_topic}/list_version") == "3"


def test_the_charging_switch_command(start_gateway, watch, base_path):
    gateway = start_gateway()
    live = watch(f"{base_path}/CP1/#")

    async def session():
        async with connected(gateway.url("CP1")) as cp:
            live.wait(f"{base_path}/CP1/state/charging_enabled", "ON")
            mark = live.mark()
            live.publish(f"{base_path}/CP1/cmd", json.dumps({"action": "charging_enabled", "args": "OFF", "request_id": 1}))
            await asyncio.to_thread(live.wait, f"{base_path}/CP1/state/charging_enabled", "OFF", 10, mark)
            blocked = (await cp.call(call.Authorize(id_tag="TAG-OK"))).id_tag_info["status"]
            mark = live.mark()
            live.publish(f"{base_path}/CP1/cmd", json.dumps({"action": "charging_enabled", "args": {"value": True}}))
            await asyncio.to_thread(live.wait, f"{base_path}/CP1/state/charging_enabled", "ON", 10, mark)
            return blocked, (await cp.call(call.Authorize(id_tag="TAG-OK"))).id_tag_info["status"]

    assert run(session()) == ("Blocked", "Accepted")
    document = live.wait_json(f"{base_path}/CP1/cmd_result", request_id=1)
    assert document["status"] == "ok" and document["response"]["charging_enabled"] == "OFF"


def test_a_command_waits_for_its_station_to_connect(start_gateway, watch, base_path):
    gateway = start_gateway(env={"OCPP_COMMAND_RETRY_ATTEMPTS": "6", "OCPP_COMMAND_RETRY_BASE_DELAY": "0.5"})
    live = watch(f"{base_path}/LATE/#")
    subscribed(watch, base_path)
    live.publish(f"{base_path}/LATE/cmd", json.dumps({"action": "reset", "args": {"type": "Soft"}, "request_id": "early"}))

    async def arrive_late():
        await asyncio.sleep(1.0)  # the command is already waiting: it must be delivered once the station is here
        async with connected(gateway.url("LATE")) as cp:
            document = await asyncio.to_thread(live.wait_json, f"{base_path}/LATE/cmd_result", 30, 0, request_id="early")
            return cp.received, document

    received, document = run(arrive_late(), timeout=60)
    assert received == [("Reset", {"type": "Soft"})]
    assert document["status"] == "ok"


def test_a_command_for_an_absent_station_fails_with_station_offline(start_gateway, watch, base_path):
    start_gateway(env={"OCPP_COMMAND_RETRY_ATTEMPTS": "2", "OCPP_COMMAND_RETRY_BASE_DELAY": "0.1"})
    live = watch(f"{base_path}/GHOST/#")
    subscribed(watch, base_path)
    live.publish(f"{base_path}/GHOST/cmd", json.dumps({"action": "reset", "args": {"type": "Soft"}, "request_id": "g"}))
    document = live.wait_json(f"{base_path}/GHOST/cmd_result", request_id="g")
    assert document["status"] == "error"
    assert document["error"]["code"] == "StationOffline"
    assert "tried 3 times" in document["error"]["description"]
    assert live.latest(f"{base_path}/GHOST/cmd_result/status") == "error"
    assert live.latest(f"{base_path}/GHOST/cmd_result/error").startswith("StationOffline: ")


def test_a_command_that_times_out_is_reported_not_retried(start_gateway, watch, base_path):
    import websockets
    gateway = start_gateway(env={"OCPP_CALL_TIMEOUT": "0.5"})
    live = watch(f"{base_path}/MUTE/#")
    subscribed(watch, base_path)

    async def mute():
        async with websockets.connect(gateway.url("MUTE"), subprotocols=["ocpp1.6"]) as charger:
            await hello(charger)
            await asyncio.to_thread(gateway.event, "connected", "MUTE")
            live.publish(f"{base_path}/MUTE/cmd", json.dumps({"action": "clear_cache", "request_id": "t"}))
            first = await asyncio.wait_for(charger.recv(), 5)
            document = await asyncio.to_thread(live.wait_json, f"{base_path}/MUTE/cmd_result", request_id="t")
            try:
                again = await asyncio.wait_for(charger.recv(), 1.0)
            except asyncio.TimeoutError:
                again = None
            return first, document, again

    first, document, again = run(mute())
    assert '"ClearCache"' in first
    assert document["error"]["code"] == "Timeout"
    assert again is None  # not sent a second time


MALFORMED = [
    ("not json", "InvalidCommand"),
    ("[1, 2, 3]", "InvalidCommand"),
    ('"reset"', "InvalidCommand"),
    ('{"args": {}}', "InvalidCommand"),
    ('{"action": "fly_to_the_moon"}', "UnknownAction"),
    ('{"action": "reset"}', "InvalidArguments"),
    ('{"action": "reset", "args": {"type": "Softly"}}', "InvalidArguments"),
    ('{"action": "reset", "args": {"tpye": "Soft"}}', "InvalidArguments"),
    ('{"action": "unlock_connector", "args": {"connector_id": "one"}}', "InvalidArguments"),
    ('{"action": "remote_start_transaction", "args": {"id_tag": "123456789012345678901"}}', "InvalidArguments"),
    ('{"action": "reset", "args": [1]}', "InvalidArguments"),
]


def test_malformed_commands_get_an_error_result_and_nothing_else(start_gateway, watch, base_path):
    gateway = start_gateway()
    live = watch(f"{base_path}/CP1/#")
    subscribed(watch, base_path)

    async def session():
        async with connected(gateway.url("CP1")) as cp:
            await asyncio.to_thread(gateway.event, "connected", "CP1")
            codes = []
            for payload, _ in MALFORMED:
                mark = live.mark()
                live.publish(f"{base_path}/CP1/cmd", payload)
                codes.append((await asyncio.to_thread(live.wait_json, f"{base_path}/CP1/cmd_result", 10, mark))["error"]["code"])
            mark = live.mark()
            live.client.publish(f"{base_path}/CP1/cmd", bytes([0xFF, 0xFE, 0x00]), qos=1).wait_for_publish(10)
            codes.append((await asyncio.to_thread(live.wait_json, f"{base_path}/CP1/cmd_result", 10, mark))["error"]["code"])
            # The bridge still works afterwards.
            live.publish(f"{base_path}/CP1/cmd", json.dumps({"action": "clear_cache", "request_id": "after"}))
            await asyncio.to_thread(live.wait_json, f"{base_path}/CP1/cmd_result", request_id="after")
            return codes, cp.received

    codes, received = run(session(), timeout=60)
    assert codes == [code for _, code in MALFORMED] + ["InvalidCommand"]
    assert received == [("ClearCache", {})]
    assert gateway.alive()


def test_a_retained_command_is_not_run(start_gateway, watch, base_path, broker):
    live = watch(f"{base_path}/#")
    live.publish(f"{base_path}/CP1/cmd", json.dumps({"action": "reset", "args": {"type": "Hard"}}), retain=True)
    gateway = start_gateway()

    async def session():
        async with connected(gateway.url("CP1")) as cp:
            await asyncio.to_thread(gateway.event, "connected", "CP1")
            error = await asyncio.to_thread(live.wait, f"{base_path}/CP1/cmd_result/error")
            return error, cp.received

    error, received = run(session())
    assert "retained commands are ignored" in error
    assert received == []
    mark = live.mark()
    live.publish(f"{base_path}/CP1/cmd", b"", retain=True)  # clear it from the shared broker
    # Clearing it gets no result: the next result document is the next command's (they are handled in order).
    live.publish(f"{base_path}/CP1/cmd", json.dumps({"action": "charging_enabled", "args": "ON", "request_id": "after-clear"}))
    live.wait_json(f"{base_path}/CP1/cmd_result", after=mark, request_id="after-clear")
    results = [json.loads(p) for t, p, _ in live.messages[mark:] if t == f"{base_path}/CP1/cmd_result"]
    assert [r.get("request_id") for r in results] == ["after-clear"]


def test_state_survives_a_broker_restart_and_commands_still_work(start_gateway, own_broker, base_path):
    gateway = start_gateway(on=own_broker)
    from conftest import Watcher

    async def session():
        async with connected(gateway.url("CP1")) as cp:
            await cp.call(call.BootNotification(charge_point_vendor="Acme", charge_point_model="M"))
            base = base_path
            first = Watcher(own_broker, f"{base}/#")
            first.wait(f"{base}/CP1/state/charge_point_vendor", "Acme")
            first.close()
            own_broker.restart()  # no persistence: the broker forgets every retained message
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
            after = Watcher(own_broker, "#")
            assert after.wait(f"{base}/bridge/state", "online", timeout=20) == "online"
            assert after.wait(f"{base}/CP1/state/charge_point_vendor", "Acme", timeout=20)
            assert after.wait(f"{base}/CP1/state/status", "Charging", timeout=20)
            after.publish(f"{base}/CP1/cmd", json.dumps({"action": "reset", "args": {"type": "Soft"}, "request_id": "x"}))
            document = await asyncio.to_thread(after.wait_json, f"{base}/CP1/cmd_result", 20, 0, request_id="x")
            after.close()
            return document, cp.received

    document, received = run(session(), timeout=90)
    assert document["status"] == "ok" and received == [("Reset", {"type": "Soft"})]


def test_what_a_charger_sends_before_the_broker_is_up_is_published_once_it_is(start_gateway, own_broker, base_path):
    own_broker.stop()
    gateway = start_gateway(on=own_broker)
    from conftest import Watcher

    async def boot():
        async with connected(gateway.url("EARLY")) as cp:
            await cp.call(call.BootNotification(charge_point_vendor="Early", charge_point_model="Bird"))
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))

    run(boot())
    own_broker.start()
    watcher = Watcher(own_broker, "#")
    try:
        base = base_path
        assert watcher.wait(f"{base}/EARLY/state/charge_point_vendor", "Early", timeout=20)
        assert watcher.wait(f"{base}/EARLY/state/status", "Available", timeout=20)
        assert watcher.wait(f"{base}/EARLY/state/connection_state", "DISCONNECTED", timeout=20)
    finally:
        watcher.close()


def test_an_open_transaction_is_stopped_correctly_after_a_gateway_restart(start_gateway, watch, base_path, tmp_path):
    live = watch(f"{base_path}/CP1/#")
    first = start_gateway(data_dir=tmp_path)

    async def start():
        async with connected(first.url("CP1")) as cp:
            started = await cp.call(call.StartTransaction(connector_id=1, id_tag="TAG-OK", meter_start=40000, timestamp=now()))
            await cp.call(meter([{"value": "41000"}], transaction=started.transaction_id))
            return started.transaction_id

    transaction_id = run(start())
    live.wait(f"{base_path}/CP1/state/session_energy", "1000")
    assert first.stop() == 0
    second = start_gateway(data_dir=tmp_path)

    async def stop():
        async with connected(second.url("CP1")) as cp:
            await cp.call(meter([{"value": "42500"}], transaction=transaction_id))
            await asyncio.to_thread(live.wait, f"{base_path}/CP1/state/session_energy", "2500")
            await cp.call(call.StopTransaction(meter_stop=43000, timestamp=now(), transaction_id=transaction_id))

    run(stop())
    assert live.wait(f"{base_path}/CP1/state/session_energy", "3000")
    assert live.wait(f"{base_path}/CP1/state/meter_stop", "43000")


def test_a_restarted_gateway_republishes_what_it_knows_of_stations_that_are_away(start_gateway, own_broker, base_path, tmp_path):
    from conftest import Watcher
    first = start_gateway(on=own_broker, data_dir=tmp_path)

    async def visit():
        async with connected(first.url("CP1")) as cp:
            await cp.call(call.BootNotification(charge_point_vendor="Acme", charge_point_model="Wallbox", firmware_version="9.1"))
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Faulted"))
            await cp.call(call.StatusNotification(connector_id=2, error_code="GroundFailure", status="Faulted"))

    run(visit())
    first.wait_for_log("Station disconnected")
    assert first.stop() == 0
    own_broker.restart()  # no persistence: the broker has forgotten everything
    second = start_gateway(on=own_broker, data_dir=tmp_path)
    watcher = Watcher(own_broker, f"{base_path}/#")
    try:
        assert watcher.wait(f"{base_path}/CP1/state/connection_state", "DISCONNECTED", timeout=20)
        assert watcher.wait(f"{base_path}/CP1/state/charge_point_vendor", "Acme")
        assert watcher.wait(f"{base_path}/CP1/state/firmware_version", "9.1")
        assert watcher.wait(f"{base_path}/CP1/state/status", "Faulted")
        assert watcher.wait(f"{base_path}/CP1/connector/2/state/error_code", "GroundFailure")
        assert watcher.wait(f"{base_path}/CP1/state/last_seen").endswith("Z")
    finally:
        watcher.close()
        second.stop()


def test_connector_1_gets_its_own_topics_once_a_second_connector_shows(start_gateway, own_broker, base_path, tmp_path):
    """MQTT_CONNECTOR_1_TOPICS=auto (the default): a one-connector charger publishes each value once, on the flat
    topics. When the station reports connector 2, connector 1's values published so far are copied under connector/1,
    its later values go to both; after a restart (the broker having forgotten everything) the station has both from
    the start, and a one-connector station still has none."""
    from conftest import Watcher
    s, single = f"{base_path}/CP1", f"{base_path}/CP9"
    first = start_gateway(on=own_broker, data_dir=tmp_path)
    live = Watcher(own_broker, f"{base_path}/#")
    try:
        async def visit():
            async with connected(first.url("CP9")) as cp:
                await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))
            async with connected(first.url("CP1")) as cp:
                await cp.call(call.BootNotification(charge_point_vendor="Acme", charge_point_model="Twin"))
                await cp.call(call.StatusNotification(connector_id=0, error_code="NoError", status="Available"))
                await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
                await cp.call(meter([{"value": "1500", "unit": "Wh"},
                                     {"value": "16", "measurand": "Current.Import", "phase": "L1", "unit": "A"}]))
                await cp.call(call.StatusNotification(connector_id=2, error_code="NoError", status="Available"))
                await cp.call(meter([{"value": "1600", "unit": "Wh"}]))

        run(visit())
        assert live.wait(f"{s}/connector/1/state/energy_active_import_register", "1600") == "1600"
        first.wait_for_log("Station disconnected")
    finally:
        live.close()
    topics = [t for t, _, _ in live.messages]
    mark = topics.index(f"{s}/connector/2/state/status")
    # Nothing under connector/1 before connector 2 showed; then the copies, with the values published last.
    assert not any("/connector/1/" in t for t in topics[:mark])
    copies = {}
    for t, p, _ in live.messages[mark:]:
        if "/connector/1/" in t:
            copies.setdefault(t, p)  # the first: the disconnect sets the flows to 0 later
    assert copies[f"{s}/connector/1/state/status"] == "Charging"
    assert copies[f"{s}/connector/1/state/current_import_l1"] == "16"
    assert f"{s}/connector/1/state/last_seen" not in copies and f"{s}/connector/1/state/charge_point_model" not in copies
    assert live.latest(f"{s}/state/energy_active_import_register") == "1600"
    assert not any(t.startswith(f"{single}/connector/1/") for t in topics)
    assert first.stop() == 0

    own_broker.restart()  # no persistence: the broker has forgotten everything
    again = Watcher(own_broker, f"{base_path}/#")
    second = start_gateway(on=own_broker, data_dir=tmp_path)
    try:
        # The kept statuses say CP1 has two connectors: its republished state has connector 1 under both.
        assert again.wait(f"{s}/connector/1/state/status", "Charging", timeout=20) == "Charging"
        assert again.wait(f"{s}/state/status", "Charging") == "Charging"
        assert again.wait(f"{single}/state/status", "Preparing") == "Preparing"
        async def back():
            async with connected(second.url("CP1")) as cp:
                await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Finishing"))
        run(back())
        assert again.wait(f"{s}/connector/1/state/status", "Finishing") == "Finishing"
        assert not any(t.startswith(f"{single}/connector/1/") for t, _, _ in again.messages)
    finally:
        again.close()
        second.stop()


def test_connector_1_topics_can_be_left_out(start_gateway, own_broker, base_path, tmp_path):
    """MQTT_CONNECTOR_1_TOPICS=false: connector 1 only on the flat topics, also in what a restart republishes;
    connector 2 keeps its own."""
    from conftest import Watcher
    settings = {"MQTT_CONNECTOR_1_TOPICS": "false"}
    s = f"{base_path}/CP1"
    first = start_gateway(on=own_broker, data_dir=tmp_path, env=settings)
    live = Watcher(own_broker, f"{base_path}/#")
    try:
        async def visit():
            async with connected(first.url("CP1")) as cp:
                await cp.call(call.BootNotification(charge_point_vendor="Acme", charge_point_model="Wallbox"))
                await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
                await cp.call(meter([{"value": "1500", "unit": "Wh"},
                                     {"value": "16", "measurand": "Current.Import", "phase": "L1", "unit": "A"}]))
                await cp.call(call.StatusNotification(connector_id=2, error_code="NoError", status="Faulted"))

        run(visit())
        # One publisher's messages arrive in order: once connector 2's status is here, everything before it is.
        assert live.wait(f"{s}/connector/2/state/status", "Faulted") == "Faulted"
        assert live.wait(f"{s}/state/energy_active_import_register", "1500") == "1500"
        assert live.wait(f"{s}/state/current_import_l1", "16") == "16"
        first.wait_for_log("Station disconnected")
        assert first.stop() == 0
    finally:
        live.close()
    assert [t for t, _, _ in live.messages if "/connector/1/" in t] == []

    own_broker.restart()  # no persistence: the broker has forgotten everything
    again = Watcher(own_broker, f"{base_path}/#")  # before the gateway: it sees the republished state in order
    second = start_gateway(on=own_broker, data_dir=tmp_path, env=settings)
    try:
        assert again.wait(f"{s}/state/status", "Charging", timeout=20) == "Charging"
        assert again.wait(f"{s}/connector/2/state/error_code", "NoError") == "NoError"
        assert [t for t, _, _ in again.messages if "/connector/1/" in t] == []
    finally:
        again.close()
        second.stop()


def wait_until_processed(live, base_path):
    """A bridge request after a command returns only once the bridge has taken the command (one queue, in order)."""
    mark = live.mark()
    live.publish(f"{base_path}/bridge/request/health_check", json.dumps({"transaction": mark}))
    live.wait_json(f"{base_path}/bridge/response/health_check", 10, mark, transaction=mark)


def test_a_command_waiting_for_its_station_survives_a_restart(start_gateway, watch, base_path, tmp_path):
    settings = {"OCPP_COMMAND_RETRY_ATTEMPTS": "12", "OCPP_COMMAND_RETRY_BASE_DELAY": "1"}
    first = start_gateway(env=settings, data_dir=tmp_path)
    live = watch(f"{base_path}/#")
    subscribed(watch, base_path)
    live.publish(f"{base_path}/LATER/cmd", json.dumps({"action": "reset", "args": {"type": "Soft"}, "request_id": "survivor"}))
    wait_until_processed(live, base_path)
    assert first.stop() == 0
    assert f"{base_path}/LATER/cmd_result" not in live.topics()  # no premature error: it is still waiting
    second = start_gateway(env=settings, data_dir=tmp_path)

    async def arrive():
        async with connected(second.url("LATER")) as cp:
            document = await asyncio.to_thread(live.wait_json, f"{base_path}/LATER/cmd_result", 30, 0, request_id="survivor")
            return document, cp.received

    document, received = run(arrive(), timeout=60)
    assert document["status"] == "ok" and received == [("Reset", {"type": "Soft"})]


def test_a_command_sent_before_a_crash_is_not_sent_again(start_gateway, watch, base_path, tmp_path):
    import signal
    import websockets
    first = start_gateway(data_dir=tmp_path)
    live = watch(f"{base_path}/#")
    subscribed(watch, base_path)

    async def mute_charger():
        async with websockets.connect(first.url("MUTE"), subprotocols=["ocpp1.6"]) as charger:
            await hello(charger)
            await asyncio.to_thread(first.event, "connected", "MUTE")
            live.publish(f"{base_path}/MUTE/cmd", json.dumps({"action": "reset", "args": {"type": "Hard"}, "request_id": "once"}))
            assert '"Reset"' in await asyncio.wait_for(charger.recv(), 10)  # sent; the charger does not answer
            first.process.send_signal(signal.SIGKILL)
            first.process.wait(10)

    run(mute_charger())
    second = start_gateway(data_dir=tmp_path)
    document = live.wait_json(f"{base_path}/MUTE/cmd_result", 20, 0, request_id="once")
    assert document["status"] == "error" and document["error"]["code"] == "ConnectionLost"

    async def reconnect():
        async with websockets.connect(second.url("MUTE"), subprotocols=["ocpp1.6"]) as charger:
            await charger.send('[2,"1","Heartbeat",{}]')
            assert json.loads(await asyncio.wait_for(charger.recv(), 5))[0] == 3
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(charger.recv(), 1.5)  # the reset does not come again

    run(reconnect())
