"""Relay mode (docs/relay.md) against a real upstream central system (upstream.py: the Python `ocpp` package in the
central system's role). One upstream and one relaying gateway for the module; each test uses its own station."""
import asyncio
import base64
import json
import time
import urllib.request

import pytest
import websockets

from chargepoint import connected, now, run
from conftest import broker_gateway, free_port
from ocpp.v16 import call
from upstream import Upstream

BASE = "relay"


@pytest.fixture(scope="module")
def upstream():
    upstream = Upstream()
    yield upstream
    upstream.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, broker, upstream):
    directory = tmp_path_factory.mktemp("relay")
    stations = directory / "relay-stations.json"
    stations.write_text('{"R-FILE": {"upstream_id": "UP*7", "password": "from-the-operator"},'
                        ' "R-TAGS": {"id_tags": {"Card-1": "UP-OK"}}}')
    gateway = broker_gateway(directory, broker, BASE, {
        "RELAY_URL": upstream.url("/ocpp"), "RELAY_STATIONS_FILE": str(stations), "RELAY_DENIED_ACTIONS": "ClearCache, UpdateFirmware",
    })
    yield gateway
    gateway.stop()


@pytest.fixture
def mqtt(watch):
    return watch(f"{BASE}/#")


def basic(station, password):
    return "Basic " + base64.b64encode(f"{station}:{password}".encode()).decode()


def test_boot_reaches_the_upstream_with_the_station_id_and_the_chargers_credentials(gateway, upstream, mqtt):
    credentials = basic("R-BOOT", "charger-secret")

    async def session():
        async with connected(gateway.url("R-BOOT"), "R-BOOT", announce=False, headers={"Authorization": credentials}) as cp:
            return await cp.call(call.BootNotification(charge_point_vendor="Acme", charge_point_model="Relayed"))

    boot = run(session())
    assert boot.interval == 120 and boot.status == "Accepted"  # the upstream's answer, not the gateway's 300
    _, _, fields = upstream.wait(lambda e: e[0] == "R-BOOT" and e[1] == "BootNotification")
    assert fields["charge_point_vendor"] == "Acme"
    assert ("/ocpp/R-BOOT", credentials) in upstream.connections  # forwarded to the upstream, and only there
    assert mqtt.wait(f"{BASE}/R-BOOT/state/charge_point_vendor", "Acme")
    assert mqtt.wait(f"{BASE}/R-BOOT/relay/state", "connected")


def test_the_stations_file_gives_a_station_its_upstream_id_and_password(gateway, upstream):
    async def session():
        async with connected(gateway.url("R-FILE"), "R-FILE", headers={"Authorization": basic("R-FILE", "charger-secret")}):
            # Connected until the upstream has the greeting: a charger that leaves at once may leave before the
            # upstream connection is up, and its messages then wait in the store for its next connection (CI saw it).
            await asyncio.to_thread(upstream.wait, lambda e: e[0] == "UP*7" and e[1] == "Heartbeat")

    run(session())
    assert ("/ocpp/UP%2A7", basic("UP*7", "from-the-operator")) in upstream.connections


def test_the_upstream_decides_authorization(gateway, upstream):
    async def session():
        async with connected(gateway.url("R-AUTH"), "R-AUTH") as cp:
            listed_here = await cp.call(call.Authorize(id_tag="TAG-OK"))  # in the gateway's own list
            listed_upstream = await cp.call(call.Authorize(id_tag="UP-OK"))
            return listed_here.id_tag_info["status"], listed_upstream.id_tag_info["status"]

    assert run(session()) == ("Invalid", "Accepted")


def test_the_charger_gets_the_upstreams_transaction_id_and_mqtt_shows_every_reading(gateway, upstream, mqtt):
    async def session():
        async with connected(gateway.url("R-TX"), "R-TX") as cp:
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
            started = await cp.call(call.StartTransaction(connector_id=1, id_tag="UP-OK", meter_start=1000, timestamp=now()))
            for reading in (1500, 2000):
                await cp.call(call.MeterValues(connector_id=1, transaction_id=started.transaction_id, meter_value=[
                    {"timestamp": now(), "sampledValue": [{"value": str(reading), "unit": "Wh"}]}]))
            await cp.call(call.StopTransaction(transaction_id=started.transaction_id, meter_stop=2500, timestamp=now()))
            return started.transaction_id

    transaction = run(session())
    assert transaction >= 4242  # the upstream's id
    upstream.wait(lambda e: e[0] == "R-TX" and e[1] == "StopTransaction" and e[2]["transaction_id"] == transaction)
    assert upstream.actions("R-TX") == ["Heartbeat", "StatusNotification", "StartTransaction", "MeterValues", "MeterValues",
                                       "StopTransaction"]
    assert mqtt.wait(f"{BASE}/R-TX/state/transaction_id", str(transaction))
    assert mqtt.wait(f"{BASE}/R-TX/state/energy_active_import_register", "2000")
    assert mqtt.wait(f"{BASE}/R-TX/state/session_energy", "1500")


def test_an_upstream_call_reaches_the_charger_and_its_answer_the_upstream(gateway, upstream):
    async def session():
        async with connected(gateway.url("R-CALL"), "R-CALL") as cp:
            upstream.wait(lambda e: e[0] == "R-CALL" and e[1] == "Heartbeat")
            answer = await asyncio.to_thread(upstream.call, "R-CALL", call.RemoteStopTransaction(transaction_id=4242))
            return answer.status, cp.received

    status, received = run(session())
    assert status == "Accepted"
    assert ("RemoteStopTransaction", {"transaction_id": 4242}) in received


def test_an_mqtt_command_and_an_upstream_call_in_flight_together_are_both_answered(gateway, upstream):
    async def session():
        async with connected(gateway.url("R-BOTH"), "R-BOTH") as cp:
            upstream.wait(lambda e: e[0] == "R-BOTH" and e[1] == "Heartbeat")
            command = gateway.command("R-BOTH", "Reset", {"type": "Soft"})
            from_upstream = asyncio.to_thread(upstream.call, "R-BOTH", call.GetConfiguration(key=["HeartbeatInterval"]))
            local = asyncio.to_thread(gateway.result, command)
            upstream_answer, local_answer = await asyncio.gather(from_upstream, local)
            return upstream_answer, local_answer, cp.received

    upstream_answer, local_answer, received = run(session())
    assert upstream_answer.configuration_key[0]["key"] == "HeartbeatInterval"
    assert local_answer["ok"] and local_answer["payload"] == {"status": "Accepted"}
    assert {action for action, _ in received} == {"Reset", "GetConfiguration"}


def test_with_offline_mode_close_an_upstream_that_stays_away_closes_the_charger(tmp_path, broker, mqtt):
    """RELAY_OFFLINE_MODE=close: RELAY_OFFLINE_GRACE passes without the upstream, the charger is closed with 1013 (try
    again later) and keeps its messages; nothing was acknowledged that the upstream has not seen."""
    nowhere = free_port()
    gateway = broker_gateway(tmp_path, broker, BASE, {
        "RELAY_URL": f"ws://127.0.0.1:{nowhere}/ocpp", "RELAY_OFFLINE_GRACE": "1", "RELAY_OFFLINE_MODE": "close",
    })
    try:
        async def session():
            async with websockets.connect(gateway.url("R-AWAY"), subprotocols=["ocpp1.6"]) as charger:
                await charger.send('[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]')
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(charger.recv(), 15)  # no answer: the upstream never saw the boot
                return closed.value.rcvd.code if closed.value.rcvd else None

        assert run(session(), timeout=30) == 1013
        gateway.wait_for_log("stayed away past RELAY_OFFLINE_GRACE")
        assert mqtt.wait(f"{BASE}/R-AWAY/relay/state", "offline")
        assert mqtt.wait(f"{BASE}/R-AWAY/relay/last_error", "away for longer than RELAY_OFFLINE_GRACE; the charger was closed")
        assert mqtt.wait(f"{BASE}/R-AWAY/state/disconnect_reason", "upstream_unavailable")
    finally:
        gateway.stop()


def test_the_owners_override_refuses_the_upstreams_control_calls_and_keeps_local_ones(gateway, upstream, mqtt):
    """`<S>/relay/set/override` ON (retained, as Home Assistant's switch publishes it): the upstream's Reset gets a
    schema-valid Rejected and never reaches the charger; a Reset from MQTT still does; telemetry keeps flowing; OFF
    lets the upstream's calls through again."""
    switch = f"{BASE}/R-OVR/relay/set/override"

    async def session():
        async with connected(gateway.url("R-OVR"), "R-OVR") as cp:
            upstream.wait(lambda e: e[0] == "R-OVR" and e[1] == "Heartbeat")
            mqtt.publish(switch, "ON", retain=True)
            await asyncio.to_thread(mqtt.wait, f"{BASE}/R-OVR/relay/override", "ON")
            refused = await asyncio.to_thread(upstream.call, "R-OVR", call.Reset(type="Hard"))
            local = await asyncio.to_thread(gateway.result, gateway.command("R-OVR", "Reset", {"type": "Soft"}))
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
            mqtt.publish(switch, "OFF", retain=True)
            await asyncio.to_thread(mqtt.wait, f"{BASE}/R-OVR/relay/override", "OFF")
            allowed = await asyncio.to_thread(upstream.call, "R-OVR", call.Reset(type="Hard"))
            return refused.status, local, allowed.status, cp.received

    try:
        refused, local, allowed, received = run(session())
    finally:
        mqtt.publish(switch, "", retain=True)  # clear the retained switch
    assert refused == "Rejected" and allowed == "Accepted"
    assert local["ok"]
    assert [fields["type"] for action, fields in received if action == "Reset"] == ["Soft", "Hard"]
    upstream.wait(lambda e: e[0] == "R-OVR" and e[1] == "StatusNotification")


def test_denied_actions_and_a_local_inoperative_are_refused_to_the_upstream(gateway, upstream, mqtt):
    """RELAY_DENIED_ACTIONS: the upstream's ClearCache gets NotSupported and never reaches the charger. A whole charger
    made Inoperative from MQTT stays so: the upstream's Operative gets Rejected until the local switch goes back."""
    async def session():
        async with connected(gateway.url("R-POL"), "R-POL") as cp:
            upstream.wait(lambda e: e[0] == "R-POL" and e[1] == "Heartbeat")
            # The ocpp package returns None for a CallError (it logs "Received a CALLError ... NotSupported").
            assert await asyncio.to_thread(upstream.call, "R-POL", call.ClearCache()) is None
            mqtt.publish(f"{BASE}/R-POL/set/availability", "Inoperative")
            await asyncio.to_thread(mqtt.wait, f"{BASE}/R-POL/state/availability", "Inoperative")
            refused = await asyncio.to_thread(upstream.call, "R-POL", call.ChangeAvailability(connector_id=0, type="Operative"))
            mqtt.publish(f"{BASE}/R-POL/set/availability", "Operative")
            await asyncio.to_thread(mqtt.wait, f"{BASE}/R-POL/state/availability", "Operative")
            allowed = await asyncio.to_thread(upstream.call, "R-POL", call.ChangeAvailability(connector_id=0, type="Operative"))
            return refused.status, allowed.status, cp.received

    refused, allowed, received = run(session())
    assert (refused, allowed) == ("Rejected", "Accepted")
    assert [action for action, _ in received] == ["ChangeAvailability"] * 3  # local, local, then the upstream's
    assert "ClearCache" not in [action for action, _ in received]


def test_the_local_current_limit_is_a_charge_point_max_profile_and_survives_the_upstreams_clear(gateway, upstream, mqtt):
    """In relay mode `max_current` is a ChargePointMaxProfile (the charger takes the lower of it and the upstream's
    profiles, OCPP 1.6 section 3.13.3) with an id of its own; when the upstream clears the charger's profiles, the
    gateway sends the local limit again."""
    async def session():
        async with connected(gateway.url("R-LIM"), "R-LIM") as cp:
            cp.clear_status = "Accepted"  # it had profiles to clear
            upstream.wait(lambda e: e[0] == "R-LIM" and e[1] == "Heartbeat")
            mqtt.publish(f"{BASE}/R-LIM/set/max_current", "16")
            await asyncio.to_thread(mqtt.wait, f"{BASE}/R-LIM/state/max_current", "16")
            cleared = await asyncio.to_thread(upstream.call, "R-LIM", call.ClearChargingProfile())
            deadline = time.monotonic() + 10
            while sum(action == "SetChargingProfile" for action, _ in cp.received) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return cleared.status, cp.received

    status, received = run(session())
    assert status == "Accepted"
    profiles = [fields["cs_charging_profiles"] for action, fields in received if action == "SetChargingProfile"]
    assert [action for action, _ in received] == ["SetChargingProfile", "ClearChargingProfile", "SetChargingProfile"]
    for profile in profiles:
        assert profile["charging_profile_purpose"] == "ChargePointMaxProfile" and profile["charging_profile_id"] == 9101
        assert profile["charging_schedule"]["charging_schedule_period"][0]["limit"] == 16


def test_the_upstreams_pending_boot_and_call_errors_reach_the_charger_as_they_are(gateway, upstream):
    """A Pending boot is the charger's to obey, and a CallError (the upstream here has no DataTransfer handler, so the
    ocpp package answers NotImplemented) reaches the charger as the upstream sent it."""
    async def session():
        async with websockets.connect(gateway.url("PENDING-1"), subprotocols=["ocpp1.6"]) as charger:
            await charger.send('[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]')
            boot = json.loads(await asyncio.wait_for(charger.recv(), 10))
            await charger.send('[2,"d1","DataTransfer",{"vendorId":"acme"}]')
            error = json.loads(await asyncio.wait_for(charger.recv(), 10))
            return boot, error

    boot, error = run(session())
    assert boot[0] == 3 and boot[2]["status"] == "Pending" and boot[2]["interval"] == 120
    assert error[0] == 4 and error[1] == "d1" and error[2] == "NotImplemented"


def test_a_second_upstream_start_on_a_connector_supersedes_the_open_one(gateway, upstream):
    """As without relaying: the transaction still open on the connector goes to the history as Superseded."""
    async def session():
        async with connected(gateway.url("R-SUP"), "R-SUP") as cp:
            first = await cp.call(call.StartTransaction(connector_id=1, id_tag="UP-OK", meter_start=100, timestamp=now()))
            await cp.call(call.StartTransaction(connector_id=1, id_tag="UP-OK", meter_start=250, timestamp=now()))
            return first.transaction_id

    first = run(session())
    url = f"http://127.0.0.1:{gateway.admin_port}/api/transactions?station=R-SUP"
    with urllib.request.urlopen(url, timeout=5) as response:
        history = json.load(response)
    assert [(t["transaction_id"], t["stop_reason"], t["energy_wh"]) for t in history] == [(first, "Superseded", 150)]


def test_the_stations_id_tag_rewrite_goes_up_and_comes_back_in_a_remote_start(gateway, upstream, mqtt):
    """`id_tags` in RELAY_STATIONS_FILE: the charger's Card-1 is UP-OK at the upstream (which accepts it), going up in
    Authorize and StartTransaction; the upstream's RemoteStartTransaction for UP-OK reaches the charger as Card-1. MQTT
    shows the charger's own tag."""
    async def session():
        async with connected(gateway.url("R-TAGS"), "R-TAGS") as cp:
            authorized = await cp.call(call.Authorize(id_tag="CARD-1"))
            started = await cp.call(call.StartTransaction(connector_id=1, id_tag="Card-1", meter_start=0, timestamp=now()))
            remote = await asyncio.to_thread(upstream.call, "R-TAGS", call.RemoteStartTransaction(id_tag="UP-OK", connector_id=2))
            return authorized, started, remote, cp.received

    authorized, started, remote, received = run(session())
    assert authorized.id_tag_info["status"] == "Accepted" and started.id_tag_info["status"] == "Accepted"
    assert [fields["id_tag"] for station, action, fields in upstream.received
            if station == "R-TAGS" and action in ("Authorize", "StartTransaction")] == ["UP-OK", "UP-OK"]
    assert remote.status == "Accepted"
    assert ("RemoteStartTransaction", {"id_tag": "Card-1", "connector_id": 2}) in received
    assert mqtt.wait(f"{BASE}/R-TAGS/state/id_tag", "Card-1")


def test_the_local_current_limit_and_an_upstream_tx_default_profile_coexist(gateway, upstream, mqtt):
    """The owner's max_current goes as a ChargePointMaxProfile, the upstream's smart charging as a TxDefaultProfile:
    both reach the charger with their own purposes and ids, neither replaces the other, and MQTT keeps the local limit."""
    async def session():
        async with connected(gateway.url("R-BOTHLIM"), "R-BOTHLIM") as cp:
            upstream.wait(lambda e: e[0] == "R-BOTHLIM" and e[1] == "Heartbeat")
            mqtt.publish(f"{BASE}/R-BOTHLIM/set/max_current", "20")
            await asyncio.to_thread(mqtt.wait, f"{BASE}/R-BOTHLIM/state/max_current", "20")
            answer = await asyncio.to_thread(upstream.call, "R-BOTHLIM", call.SetChargingProfile(connector_id=0, cs_charging_profiles={
                "charging_profile_id": 7, "stack_level": 1, "charging_profile_purpose": "TxDefaultProfile",
                "charging_profile_kind": "Relative",
                "charging_schedule": {"charging_rate_unit": "A", "charging_schedule_period": [{"start_period": 0, "limit": 32}]}}))
            return answer.status, cp.received

    status, received = run(session())
    assert status == "Accepted"
    profiles = [fields["cs_charging_profiles"] for action, fields in received if action == "SetChargingProfile"]
    assert [(p["charging_profile_purpose"], p["charging_profile_id"]) for p in profiles] == [
        ("ChargePointMaxProfile", 9101), ("TxDefaultProfile", 7)]
    assert [action for action, _ in received] == ["SetChargingProfile", "SetChargingProfile"]  # no clear, no re-send
    assert mqtt.latest(f"{BASE}/R-BOTHLIM/state/max_current") == "20"
