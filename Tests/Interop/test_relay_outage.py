"""Relay mode through an upstream outage (docs/relay.md, "When the upstream is away"): the gateway answers in the
upstream's place after RELAY_OFFLINE_GRACE, keeps what the upstream has not seen in its durable queue, and replays it
in order after a fresh BootNotification when the upstream is back, translating the transaction ids it gave. One
upstream (upstream.py) and one relaying gateway for the module; the tests take the upstream away and bring it back,
each with its own station."""
import asyncio
import json

import pytest

from chargepoint import connected, now, run
from conftest import broker_gateway
from ocpp.v16 import call
from upstream import Upstream

BASE = "outage"
ENV = {"RELAY_OFFLINE_GRACE": "1", "RELAY_RECONNECT_MAX_DELAY": "0.5"}


@pytest.fixture(scope="module")
def upstream():
    upstream = Upstream()
    yield upstream
    upstream.stop()


def relaying_gateway(directory, broker, upstream, **extra):
    return broker_gateway(directory, broker, BASE, {"RELAY_URL": upstream.url("/ocpp"), **ENV, **extra})


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, broker, upstream):
    gateway = relaying_gateway(tmp_path_factory.mktemp("outage"), broker, upstream, RELAY_SNOOP="true")
    yield gateway
    gateway.stop()


@pytest.fixture
def mqtt(watch):
    return watch(f"{BASE}/#")


@pytest.fixture
def outage(upstream):
    """Takes the upstream away when called; it is back after the test whatever happened."""
    away = []

    def start():
        upstream.go_away()
        away.append(True)

    yield start
    if away:
        try:
            upstream.come_back()
        except OSError:
            pass  # back already


def reading(transaction_id, value, stamp):
    return call.MeterValues(connector_id=1, transaction_id=transaction_id,
                            meter_value=[{"timestamp": stamp, "sampled_value": [{"value": str(value), "unit": "Wh"}]}])


def since(upstream, station, index):
    with upstream.changed:
        return [(action, fields) for s, action, fields in upstream.received if s == station and not action.endswith(" answered")][index:]


def test_an_outage_is_answered_here_and_replayed_after_a_boot_in_order_with_the_original_timestamps(gateway, upstream, mqtt, outage):
    """Mid-session the upstream goes away: readings keep reaching MQTT, the stop and a new start are answered here
    (the start with a local transaction id), and when the upstream is back it receives a BootNotification, then every
    queued message in order with the charger's timestamps; the offline start gets the upstream's id, the readings and
    its stop go up under it, and the upstream's RemoteStopTransaction and TxProfile for it reach the charger with the
    charger's id."""
    async def session():
        async with connected(gateway.url("O-1"), "O-1") as cp:
            await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
            online = await cp.call(call.StartTransaction(connector_id=1, id_tag="UP-OK", meter_start=1000, timestamp=now()))
            # The greeting Heartbeat went up on its own (answered by the gateway): its answer is back before the outage.
            await asyncio.to_thread(upstream.wait, lambda e: e[0] == "O-1" and e[1] == "Heartbeat answered")
            before = len(since(upstream, "O-1", 0))
            await asyncio.to_thread(outage)
            await asyncio.to_thread(mqtt.wait, f"{BASE}/O-1/relay/state", "offline")
            stamps = [now(), now()]
            await cp.call(reading(online.transaction_id, 1100, stamps[0]))
            await cp.call(reading(online.transaction_id, 1200, stamps[1]))
            await asyncio.to_thread(mqtt.wait, f"{BASE}/O-1/state/energy_active_import_register", "1200")
            await cp.call(call.StopTransaction(meter_stop=1300, timestamp=now(), transaction_id=online.transaction_id))
            offline = await cp.call(call.StartTransaction(connector_id=1, id_tag="UP-OK", meter_start=1300, timestamp=now()))
            stamps.append(now())
            await cp.call(reading(offline.transaction_id, 1400, stamps[2]))
            await asyncio.to_thread(mqtt.wait, f"{BASE}/O-1/relay/queue", "5")
            waiting = json.loads(await asyncio.to_thread(mqtt.latest, f"{BASE}/O-1/relay/transactions"))
            mark = mqtt.mark()
            await asyncio.to_thread(upstream.come_back)
            await asyncio.to_thread(upstream.wait, lambda e: e[0] == "O-1" and e[1] == "MeterValues"
                                    and e[2]["meter_value"][0]["sampled_value"][0]["value"] == "1400", 20)
            await asyncio.to_thread(mqtt.wait, f"{BASE}/O-1/relay/queue", "0", 10, mark)
            replayed = since(upstream, "O-1", before)
            linked = await asyncio.to_thread(
                mqtt.wait_json_list, f"{BASE}/O-1/relay/transactions",
                lambda items: items and items[0]["transaction_id"] == offline.transaction_id and items[0]["upstream_transaction_id"])
            upstream_id = linked[0]["upstream_transaction_id"]
            stop = await asyncio.to_thread(upstream.call, "O-1", call.RemoteStopTransaction(transaction_id=upstream_id))
            profile = await asyncio.to_thread(upstream.call, "O-1", call.SetChargingProfile(connector_id=1, cs_charging_profiles={
                "charging_profile_id": 5, "transaction_id": upstream_id, "stack_level": 0, "charging_profile_purpose": "TxProfile",
                "charging_profile_kind": "Relative",
                "charging_schedule": {"charging_rate_unit": "A", "charging_schedule_period": [{"start_period": 0, "limit": 10}]}}))
            return online, offline, stamps, waiting, replayed, linked, stop, profile, cp.received

    online, offline, stamps, waiting, replayed, linked, stop, profile, received = run(session(), timeout=60)
    assert 2_100_000_000 <= offline.transaction_id <= 2_147_483_647
    assert waiting == [{"connector_id": 1, "transaction_id": offline.transaction_id, "upstream_transaction_id": None}]
    assert [action for action, _ in replayed] == ["BootNotification", "MeterValues", "MeterValues", "StopTransaction",
                                                 "StartTransaction", "MeterValues"]
    assert [fields["meter_value"][0]["timestamp"] for action, fields in replayed if action == "MeterValues"] == stamps
    assert replayed[3][1]["transaction_id"] == online.transaction_id
    upstream_id = linked[0]["upstream_transaction_id"]
    assert upstream_id not in (online.transaction_id, offline.transaction_id)
    assert replayed[5][1]["transaction_id"] == upstream_id
    assert linked == [{"connector_id": 1, "transaction_id": offline.transaction_id, "upstream_transaction_id": upstream_id}]
    assert stop.status == "Accepted" and profile.status == "Accepted"
    assert ("RemoteStopTransaction", {"transaction_id": offline.transaction_id}) in received
    profiles = [fields["cs_charging_profiles"] for action, fields in received if action == "SetChargingProfile"]
    assert profiles[0]["transaction_id"] == offline.transaction_id


def test_answers_in_the_upstreams_place_follow_what_it_said_before(gateway, upstream, mqtt, outage):
    """Offline: a boot is accepted with the upstream's interval; a tag the upstream accepted is accepted, one it
    refused stays refused even when AUTHORIZED_TAG_ID_LIST has it, a listed tag it never judged is accepted, any other
    is Invalid; a DataTransfer gets UnknownVendorId."""
    async def session():
        async with connected(gateway.url("O-AUTH"), "O-AUTH") as cp:
            await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
            assert (await cp.call(call.Authorize(id_tag="UP-OK"))).id_tag_info["status"] == "Accepted"
            assert (await cp.call(call.Authorize(id_tag="TAG-OK"))).id_tag_info["status"] == "Invalid"
            await asyncio.to_thread(outage)
            await asyncio.to_thread(mqtt.wait, f"{BASE}/O-AUTH/relay/state", "offline")
            boot = await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
            verdicts = {}
            for tag in ("UP-OK", "up-ok", "TAG-OK", "johnny-car", "stranger"):
                verdicts[tag] = (await cp.call(call.Authorize(id_tag=tag))).id_tag_info["status"]
            transfer = await cp.call(call.DataTransfer(vendor_id="acme"))
            return boot, verdicts, transfer

    boot, verdicts, transfer = run(session(), timeout=30)
    assert boot.status == "Accepted" and boot.interval == 120
    assert verdicts == {"UP-OK": "Accepted", "up-ok": "Accepted", "TAG-OK": "Invalid", "johnny-car": "Accepted", "stranger": "Invalid"}
    assert transfer.status == "UnknownVendorId"


def test_the_snoop_shows_the_frames_to_and_from_the_upstream(gateway, upstream, mqtt):
    """RELAY_SNOOP=true: the frames on the station's upstream link, raw, on <S>/ocpp/out and <S>/ocpp/in."""
    async def session():
        async with connected(gateway.url("O-SNOOP"), "O-SNOOP") as cp:
            await cp.call(call.Authorize(id_tag="UP-OK"))

    run(session())
    sent = mqtt.wait_json_list(f"{BASE}/O-SNOOP/ocpp/out", lambda frame: frame[0] == 2 and frame[2] == "Authorize")
    answered = mqtt.wait_json_list(f"{BASE}/O-SNOOP/ocpp/in", lambda frame: frame[0] == 3 and frame[1] == sent[1])
    assert sent[3] == {"idTag": "UP-OK"} and answered[2]["idTagInfo"]["status"] == "Accepted"


def test_a_kill_during_the_outage_loses_and_duplicates_nothing(tmp_path, broker, upstream, mqtt, outage):
    """A transaction answered here while the upstream is away, then SIGKILL: the gateway started again on the same
    data directory replays the boot, the start, the reading and the stop once each when the charger is back."""
    first = relaying_gateway(tmp_path, broker, upstream)
    try:
        async def offline_session():
            async with connected(first.url("O-KILL"), "O-KILL") as cp:
                await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
                await asyncio.to_thread(outage)
                await asyncio.to_thread(mqtt.wait, f"{BASE}/O-KILL/relay/state", "offline")
                started = await cp.call(call.StartTransaction(connector_id=1, id_tag="UP-OK", meter_start=0, timestamp=now()))
                await cp.call(reading(started.transaction_id, 500, now()))
                await cp.call(call.StopTransaction(meter_stop=900, timestamp=now(), transaction_id=started.transaction_id))
                first.process.kill()
                first.process.wait(10)

        run(offline_session(), timeout=30)
    finally:
        first.stop()
    before = len(since(upstream, "O-KILL", 0))
    mark = mqtt.mark()
    upstream.come_back()
    second = relaying_gateway(tmp_path, broker, upstream)
    try:
        async def back():
            async with connected(second.url("O-KILL"), "O-KILL"):
                await asyncio.to_thread(upstream.wait, lambda e: e[0] == "O-KILL" and e[1] == "StopTransaction", 20)
                await asyncio.to_thread(mqtt.wait, f"{BASE}/O-KILL/relay/queue", "0", 10, mark)

        run(back(), timeout=40)
    finally:
        second.stop()
    replayed = since(upstream, "O-KILL", before)
    assert [action for action, _ in replayed if action != "Heartbeat"] == [
        "BootNotification", "StartTransaction", "MeterValues", "StopTransaction"]
    assert upstream.count("O-KILL", "StartTransaction") == 1 and upstream.count("O-KILL", "StopTransaction") == 1
    stop = next(fields for action, fields in replayed if action == "StopTransaction")
    meter = next(fields for action, fields in replayed if action == "MeterValues")
    assert stop["transaction_id"] == meter["transaction_id"] < 2_100_000_000
