"""Sharing a charger with a secondary central system (docs/relay.md, "Secondary central systems"): a copy of every
charger message under the secondary's own station id, id tags and transaction ids, through a durable queue of its
own; of its calls only reads reach the charger. Two upstreams (upstream.py) and one relaying gateway for the module."""
import asyncio
import json
import urllib.request

import pytest

from chargepoint import connected, now, run
from conftest import broker_gateway
from ocpp.v16 import call
from upstream import Upstream

BASE = "shared"


@pytest.fixture(scope="module")
def primary():
    upstream = Upstream()
    yield upstream
    upstream.stop()


@pytest.fixture(scope="module")
def secondary():
    upstream = Upstream(first_transaction=9001)
    yield upstream
    upstream.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, broker, primary, secondary):
    directory = tmp_path_factory.mktemp("shared")
    stations = directory / "stations.json"
    stations.write_text(json.dumps({
        "S-MAP": {"secondaries": [{"url": secondary.url("/sec"), "upstream_id": "SEC*1", "id_tags": {"UP-OK": "SEC-TAG"}}]},
        "S-RIGHTS": {"secondaries": [{"url": secondary.url("/sec"), "rights": {"RemoteStartTransaction": "forward"}}]},
        "S-KEY": {"secondaries": [{"url": secondary.url("/sec"), "rights": {"ChangeConfiguration:MeterValueSampleInterval": "forward"}}]},
        "S-ANS": {"secondaries": [{"url": secondary.url("/sec"), "rights": {"RemoteStartTransaction": "answer"}}]},
        "S-OVR": {"secondaries": [{"url": secondary.url("/sec"), "name": "energy", "rights": {"SetChargingProfile": "forward"}}]},
        "S-ARB": {"secondaries": [{"url": secondary.url("/sec"), "name": "energy",
                                   "rights": {"RemoteStartTransaction": "forward", "RemoteStopTransaction": "forward"}}]}}))
    gateway = broker_gateway(directory, broker, BASE, {
        "RELAY_URL": primary.url("/ocpp"), "RELAY_SECONDARY_URLS": secondary.url("/sec"), "RELAY_STATIONS_FILE": str(stations),
        "RELAY_RECONNECT_MAX_DELAY": "0.5", "RELAY_CONTROL_PREFERRED": "nobody",
        "RELAY_DENIED_ACTIONS": "ChangeConfiguration:MeterValueSampleInterval",
    })
    yield gateway
    gateway.stop()


@pytest.fixture
def mqtt(watch):
    return watch(f"{BASE}/#")


def reading(transaction_id, value):
    return call.MeterValues(connector_id=1, transaction_id=transaction_id,
                            meter_value=[{"timestamp": now(), "sampled_value": [{"value": str(value), "unit": "Wh"}]}])


async def a_session(cp):
    """Boot, status, authorize, a transaction with a reading, its stop: what a charger sends in a charge."""
    await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
    await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))
    await cp.call(call.Authorize(id_tag="UP-OK"))
    started = await cp.call(call.StartTransaction(connector_id=1, id_tag="UP-OK", meter_start=0, timestamp=now()))
    await cp.call(reading(started.transaction_id, 500))
    await cp.call(call.StopTransaction(meter_stop=900, timestamp=now(), transaction_id=started.transaction_id, id_tag="UP-OK"))
    return started.transaction_id


def test_a_secondary_sees_what_the_primary_sees_under_its_own_station_id_tags_and_transaction_ids(gateway, primary, secondary):
    async def session():
        async with connected(gateway.url("S-MAP"), "S-MAP") as cp:
            transaction = await a_session(cp)
            await asyncio.to_thread(secondary.wait, lambda e: e[0] == "SEC*1" and e[1] == "StopTransaction")
            return transaction

    transaction = run(session())
    sent = ["Heartbeat", "BootNotification", "StatusNotification", "Authorize", "StartTransaction", "MeterValues", "StopTransaction"]
    assert primary.actions("S-MAP") == sent
    assert secondary.actions("SEC*1") == sent  # under the id the stations file gives it, in the charger's order
    seen = {action: fields for station, action, fields in secondary.received if station == "SEC*1"}
    assert transaction < 9000 and seen["MeterValues"]["transaction_id"] == 9001 and seen["StopTransaction"]["transaction_id"] == 9001
    assert seen["Authorize"]["id_tag"] == seen["StartTransaction"]["id_tag"] == seen["StopTransaction"]["id_tag"] == "SEC-TAG"
    first = {action: fields for station, action, fields in primary.received if station == "S-MAP"}
    assert first["MeterValues"]["transaction_id"] == transaction and first["Authorize"]["id_tag"] == "UP-OK"


def test_a_secondary_may_read_but_not_control(gateway, secondary):
    """RELAY_SECONDARY_URLS: the secondary's Reset and RemoteStartTransaction are refused (the charger never sees
    them); its TriggerMessage reaches the charger and the charger's answer goes back to it."""
    async def session():
        async with connected(gateway.url("S-READ"), "S-READ") as cp:
            await asyncio.to_thread(secondary.wait, lambda e: e[0] == "S-READ" and e[1] == "Heartbeat")
            reset = await asyncio.to_thread(secondary.call, "S-READ", call.Reset(type="Hard"))
            start = await asyncio.to_thread(secondary.call, "S-READ", call.RemoteStartTransaction(id_tag="X"))
            trigger = await asyncio.to_thread(secondary.call, "S-READ", call.TriggerMessage(requested_message="Heartbeat"))
            return reset, start, trigger, cp.received

    reset, start, trigger, received = run(session())
    assert reset.status == "Rejected" and start.status == "Rejected" and trigger.status == "Accepted"
    assert [action for action, _ in received] == ["TriggerMessage"]


def test_a_secondarys_rights_let_a_control_call_through(gateway, secondary):
    """`rights` in the stations file: this station's secondary may start a charge (its RemoteStartTransaction reaches
    the charger, and the charger's answer goes back to it); its Reset is still refused."""
    async def session():
        async with connected(gateway.url("S-RIGHTS"), "S-RIGHTS") as cp:
            await asyncio.to_thread(secondary.wait, lambda e: e[0] == "S-RIGHTS" and e[1] == "Heartbeat")
            start = await asyncio.to_thread(secondary.call, "S-RIGHTS", call.RemoteStartTransaction(id_tag="SEC-TAG", connector_id=1))
            reset = await asyncio.to_thread(secondary.call, "S-RIGHTS", call.Reset(type="Soft"))
            return start, reset, cp.received

    start, reset, received = run(session())
    assert start.status == "Accepted" and reset.status == "Rejected"
    assert received == [("RemoteStartTransaction", {"id_tag": "SEC-TAG", "connector_id": 1})]


def test_two_backends_change_configuration_keys_of_their_own(gateway, primary, secondary):
    """ChangeConfiguration per key: the secondary may change MeterValueSampleInterval (the primary may not:
    RELAY_DENIED_ACTIONS), the primary every other key (the secondary may not)."""
    def change(backend, key):
        return backend.call("S-KEY", call.ChangeConfiguration(key=key, value="60")).status

    async def session():
        async with connected(gateway.url("S-KEY"), "S-KEY") as cp:
            await asyncio.to_thread(secondary.wait, lambda e: e[0] == "S-KEY" and e[1] == "Heartbeat")
            await asyncio.to_thread(primary.wait, lambda e: e[0] == "S-KEY" and e[1] == "Heartbeat")
            answers = [await asyncio.to_thread(change, backend, key) for backend, key in [
                (secondary, "MeterValueSampleInterval"), (secondary, "HeartbeatInterval"),
                (primary, "MeterValueSampleInterval"), (primary, "HeartbeatInterval")]]
            return answers, cp.received

    answers, received = run(session())
    assert answers == ["RebootRequired", "Rejected", "Rejected", "RebootRequired"]  # the charger's own answer where it was asked
    assert [fields["key"] for action, fields in received if action == "ChangeConfiguration"] == ["MeterValueSampleInterval", "HeartbeatInterval"]


def test_the_answer_right_says_yes_for_the_charger_and_the_tag_goes_in_that_secondarys_next_start(gateway, primary, secondary):
    """`"RemoteStartTransaction": "answer"`: the gateway accepts the secondary's remote start itself (the charger never
    sees it), and the secondary gets its own tag in the station's next StartTransaction; the primary gets the charger's."""
    async def session():
        async with connected(gateway.url("S-ANS"), "S-ANS") as cp:
            await asyncio.to_thread(secondary.wait, lambda e: e[0] == "S-ANS" and e[1] == "Heartbeat")
            answer = await asyncio.to_thread(secondary.call, "S-ANS", call.RemoteStartTransaction(id_tag="SEC-REMOTE"))
            await cp.call(call.StartTransaction(connector_id=1, id_tag="UP-OK", meter_start=0, timestamp=now()))
            await asyncio.to_thread(secondary.wait, lambda e: e[0] == "S-ANS" and e[1] == "StartTransaction")
            return answer, cp.received

    answer, received = run(session())
    assert answer.status == "Accepted" and received == []
    assert [f["id_tag"] for s, a, f in secondary.received if s == "S-ANS" and a == "StartTransaction"] == ["SEC-REMOTE"]
    assert [f["id_tag"] for s, a, f in primary.received if s == "S-ANS" and a == "StartTransaction"] == ["UP-OK"]


def test_one_backend_controls_a_shared_charger_at_a_time(gateway, primary, secondary, mqtt):
    """The secondary ("energy") starts a charge and holds control: the primary's RemoteStart is refused (MQTT says who
    held control) until the session the secondary started ends; a fault takes control from its holder at once."""
    async def session():
        async with connected(gateway.url("S-ARB"), "S-ARB") as cp:
            await asyncio.to_thread(secondary.wait, lambda e: e[0] == "S-ARB" and e[1] == "Heartbeat")
            claimed = await asyncio.to_thread(secondary.call, "S-ARB", call.RemoteStartTransaction(id_tag="UP-OK", connector_id=1))
            await asyncio.to_thread(mqtt.wait, f"{BASE}/S-ARB/relay/control", "energy")
            started = await cp.call(call.StartTransaction(connector_id=1, id_tag="UP-OK", meter_start=0, timestamp=now()))
            refused = await asyncio.to_thread(primary.call, "S-ARB", call.RemoteStartTransaction(id_tag="UP-OK", connector_id=2))
            event = await asyncio.to_thread(mqtt.wait_json, f"{BASE}/S-ARB/relay/event", backend="primary")
            await cp.call(call.StopTransaction(meter_stop=10, timestamp=now(), transaction_id=started.transaction_id))
            await asyncio.to_thread(mqtt.wait, f"{BASE}/S-ARB/relay/control", "none")  # the session it started ended
            released = await asyncio.to_thread(primary.call, "S-ARB", call.RemoteStartTransaction(id_tag="UP-OK", connector_id=2))
            await asyncio.to_thread(mqtt.wait, f"{BASE}/S-ARB/relay/control", "primary")
            # The primary holds control now; a fault at the charger takes it away, and the secondary may claim it.
            await cp.call(call.StatusNotification(connector_id=0, error_code="GroundFailure", status="Faulted"))
            after_fault = await asyncio.to_thread(secondary.call, "S-ARB", call.RemoteStopTransaction(transaction_id=started.transaction_id))
            return claimed, refused, event, released, after_fault, cp.received

    claimed, refused, event, released, after_fault, received = run(session())
    assert claimed.status == "Accepted" and refused.status == "Rejected" and released.status == "Accepted"
    assert after_fault.status == "Accepted"
    assert event["action"] == "RemoteStartTransaction" and event["holder"] == "energy" and "energy holds control" in event["reason"]
    assert [action for action, _ in received] == ["RemoteStartTransaction", "RemoteStartTransaction", "RemoteStopTransaction"]
    # The history says who started the session: the secondary, by its name.
    with urllib.request.urlopen(f"http://127.0.0.1:{gateway.admin_port}/api/transactions?station=S-ARB", timeout=5) as response:
        assert [t["provider"] for t in json.load(response)] == ["energy"]


def test_the_owners_override_refuses_a_secondarys_profile_while_the_local_limit_works(gateway, secondary, mqtt):
    async def session():
        async with connected(gateway.url("S-OVR"), "S-OVR") as cp:
            await asyncio.to_thread(secondary.wait, lambda e: e[0] == "S-OVR" and e[1] == "Heartbeat")
            mqtt.publish(f"{BASE}/S-OVR/relay/set/override", "ON", retain=True)
            await asyncio.to_thread(mqtt.wait, f"{BASE}/S-OVR/relay/override", "ON")
            refused = await asyncio.to_thread(secondary.call, "S-OVR", call.SetChargingProfile(connector_id=1, cs_charging_profiles={
                "charging_profile_id": 3, "stack_level": 2, "charging_profile_purpose": "TxDefaultProfile",
                "charging_profile_kind": "Relative",
                "charging_schedule": {"charging_rate_unit": "A", "charging_schedule_period": [{"start_period": 0, "limit": 6}]}}))
            mqtt.publish(f"{BASE}/S-OVR/set/max_current", "16")
            await asyncio.to_thread(mqtt.wait, f"{BASE}/S-OVR/state/max_current", "16")
            mqtt.publish(f"{BASE}/S-OVR/relay/set/override", "", retain=True)
            return refused, cp.received

    refused, received = run(session())
    assert refused.status == "Rejected"
    assert [fields["cs_charging_profiles"]["charging_profile_id"] for action, fields in received if action == "SetChargingProfile"] == [9101]


def test_the_primary_away_does_not_stop_the_copies_to_a_secondary(gateway, primary, secondary):
    async def session():
        async with connected(gateway.url("S-PRIM"), "S-PRIM") as cp:
            await asyncio.to_thread(primary.wait, lambda e: e[0] == "S-PRIM" and e[1] == "Heartbeat answered")
            await asyncio.to_thread(primary.go_away)
            try:
                await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))
                await asyncio.to_thread(secondary.wait, lambda e: e[0] == "S-PRIM" and e[1] == "StatusNotification")
            finally:
                await asyncio.to_thread(primary.come_back)

    run(session())
    assert secondary.actions("S-PRIM") == ["Heartbeat", "StatusNotification"]


def test_a_secondary_that_is_away_delays_nothing_and_gets_its_queue_in_order_when_back(gateway, primary, secondary, mqtt):
    """MQTT shows the secondary's state and queue (<S>/relay/secondaries) through its outage."""
    topic = f"{BASE}/S-AWAY/relay/secondaries"

    async def session():
        async with connected(gateway.url("S-AWAY"), "S-AWAY") as cp:
            await asyncio.to_thread(secondary.wait, lambda e: e[0] == "S-AWAY" and e[1] == "Heartbeat answered")
            await asyncio.to_thread(secondary.go_away)
            try:
                transaction = await asyncio.wait_for(a_session(cp), 10)  # the primary answers: nothing waits for the secondary
                before = len(secondary.actions("S-AWAY"))
                away = await asyncio.to_thread(mqtt.wait_json_list, topic, lambda items: items[0]["queue"] == 6)
            finally:
                await asyncio.to_thread(secondary.come_back)
            await asyncio.to_thread(secondary.wait, lambda e: e[0] == "S-AWAY" and e[1] == "StopTransaction", 20)
            back = await asyncio.to_thread(mqtt.wait_json_list, topic, lambda items: items[0]["queue"] == 0 and items[0]["state"] == "connected")
            return transaction, before, away, back

    transaction, before, away, back = run(session(), timeout=60)
    assert away[0]["url"] == back[0]["url"] and away[0]["url"].startswith("ws://127.0.0.1:")
    assert away[0]["state"] == "connecting" and away[0]["last_error"]
    assert before == 1  # only the Heartbeat from before the outage
    assert secondary.actions("S-AWAY") == ["Heartbeat", "BootNotification", "StatusNotification", "Authorize", "StartTransaction",
                                           "MeterValues", "StopTransaction"]
    seen = {action: fields for station, action, fields in secondary.received if station == "S-AWAY"}
    assert seen["MeterValues"]["transaction_id"] == seen["StopTransaction"]["transaction_id"] != transaction
    assert primary.actions("S-AWAY")[-1] == "StopTransaction"


def test_the_mirroring_proxys_config_json_works_as_the_stations_file(tmp_path, broker, primary, secondary):
    """Users of the proxy that mirrors to secondaries switch without rewriting anything: its config.json as
    RELAY_STATIONS_FILE (no RELAY_URL) gives the primary, and a charger_map's mapped id, password and id tag."""
    (tmp_path / "config.json").write_text(json.dumps({
        "primary_csms_url": primary.url("/ocpp"), "port": 9000,
        "secondary_csms": [{"url": secondary.url("/sec"), "charger_map": [
            {"charger_id": "P-1", "mapped_charger_id": "MAPPED-1", "password": "pw", "id_tag": "SEC-ALL"}]}]}))
    gateway = broker_gateway(tmp_path, broker, BASE, {"RELAY_STATIONS_FILE": "config.json"})
    try:
        async def session():
            async with connected(gateway.url("P-1"), "P-1") as cp:
                await cp.call(call.Authorize(id_tag="UP-OK"))
                await asyncio.to_thread(secondary.wait, lambda e: e[0] == "MAPPED-1" and e[1] == "Authorize")

        run(session())
        gateway.wait_for_log("config.json: these keys of it mean nothing here")
    finally:
        gateway.stop()
    assert primary.actions("P-1") == ["Heartbeat", "Authorize"]
    assert [fields for station, action, fields in secondary.received if station == "MAPPED-1" and action == "Authorize"] == [{"id_tag": "SEC-ALL"}]
    assert any(path.startswith("/sec/MAPPED-1") and auth == "Basic TUFQUEVELTE6cHc=" for path, auth in secondary.connections)  # MAPPED-1:pw
