"""Relay mode for OCPP 2.0.1 chargers (docs/ocpp201.md, docs/relay.md): the upstream speaks the charger's version.
The upstream is upstream201.py (the Python `ocpp` package's v201 ChargePoint in the central system's role); one
upstream and one relaying gateway for the module, each test with its own station."""
import asyncio
import json

import pytest

from chargepoint201 import connected201, energy, now
from conftest import broker_gateway
from ocpp.v201 import call
from upstream201 import Upstream201

BASE = "relay201"


@pytest.fixture(scope="module")
def upstream():
    upstream = Upstream201()
    yield upstream
    upstream.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, broker, upstream):
    gateway = broker_gateway(tmp_path_factory.mktemp("relay201"), broker, BASE, {
        "RELAY_URL": upstream.url("/ocpp"), "RELAY_OFFLINE_GRACE": "1", "RELAY_RECONNECT_MAX_DELAY": "0.5",
    })
    yield gateway
    gateway.stop()


@pytest.fixture
def mqtt(watch):
    return watch(f"{BASE}/#")


def run(coroutine, timeout=40):
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


async def in_thread(function, *args, **kwargs):
    return await asyncio.to_thread(function, *args, **kwargs)


def test_the_upstream_answers_boot_tokens_and_transactions_and_sees_everything_in_order(gateway, upstream, mqtt):
    s = f"{BASE}/RA"

    async def session():
        async with connected201(gateway.url("RA"), "RA", boot=False) as cs:
            boot = await cs.boot()
            assert boot.interval == 120  # the upstream's, not the gateway's 300
            await cs.status("Available")
            upstream_ok = await cs.call(call.Authorize(id_token={"id_token": "UP-OK", "type": "ISO14443"}))
            local_only = await cs.call(call.Authorize(id_token={"id_token": "TAG-OK", "type": "ISO14443"}))
            assert upstream_ok.id_token_info["status"] == "Accepted"  # the upstream's list, not the gateway's
            assert local_only.id_token_info["status"] == "Invalid"
            await in_thread(mqtt.wait, f"{s}/state/authorize", "Invalid")
            started = await cs.transaction("Started", "rtx-1", 0, trigger="Authorized", id_token={"id_token": "UP-OK", "type": "ISO14443"},
                                           meter=energy(500, context="Transaction.Begin"))
            assert started.id_token_info["status"] == "Accepted"
            await cs.transaction("Updated", "rtx-1", 1, charging_state="Charging", meter=energy(900))
            await in_thread(mqtt.wait, f"{s}/state/session_energy", "400")
            await in_thread(mqtt.wait, f"{s}/relay/state", "connected")
            await in_thread(upstream.wait, lambda e: e[0] == "RA" and e[1] == "TransactionEvent" and e[2]["seq_no"] == 1)

    run(session())
    assert upstream.actions("RA") == ["BootNotification", "StatusNotification", "Authorize", "Authorize", "TransactionEvent", "TransactionEvent"]
    _, _, boot = upstream.wait(lambda e: e[0] == "RA" and e[1] == "BootNotification")
    assert boot["charging_station"]["vendor_name"] == "Acme Energy"
    assert mqtt.wait(f"{s}/state/transaction_id", "rtx-1")
    assert mqtt.wait(f"{s}/state/ocpp_version", "2.0.1")


def test_the_upstreams_calls_reach_the_charger_and_the_override_refuses_its_controls(gateway, upstream, mqtt):
    s = f"{BASE}/RB"

    async def session():
        async with connected201(gateway.url("RB"), "RB") as cs:
            await in_thread(upstream.wait, lambda e: e[0] == "RB" and e[1] == "BootNotification")
            start = call.RequestStartTransaction(id_token={"id_token": "UP-OK", "type": "Central"}, remote_start_id=11, evse_id=1)
            accepted = await in_thread(upstream.call, "RB", start)
            variables = await in_thread(upstream.call, "RB", call.GetVariables(get_variable_data=[
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]))
            mqtt.publish(f"{s}/relay/set/override", "ON", retain=True)
            await in_thread(mqtt.wait, f"{s}/relay/override", "ON")
            refused = await in_thread(upstream.call, "RB", start)
            reset = await in_thread(upstream.call, "RB", call.Reset(type="Immediate"))
            mqtt.publish(f"{s}/relay/set/override", "OFF", retain=True)
            await in_thread(mqtt.wait, f"{s}/relay/override", "OFF")
            return accepted, variables, refused, reset, cs.received

    accepted, variables, refused, reset, received = run(session())
    assert accepted.status == "Accepted" and refused.status == "Rejected" and reset.status == "Rejected"
    assert variables.get_variable_result[0]["attribute_value"] == "300"
    assert [action for action, _ in received] == ["RequestStartTransaction", "GetVariables"]  # the refused never reached it
    event = mqtt.wait_json(f"{s}/relay/event", action="RequestStartTransaction")
    assert event["reason"] == "the owner's override is on"


def test_an_outage_is_answered_here_and_the_transaction_replayed_in_order(gateway, upstream, mqtt):
    s = f"{BASE}/RC"
    token = {"id_token": "UP-OK", "type": "ISO14443"}

    async def session():
        async with connected201(gateway.url("RC"), "RC") as cs:
            # The upstream accepts UP-OK: remembered for when it is away.
            assert (await cs.call(call.Authorize(id_token=token))).id_token_info["status"] == "Accepted"
            mark = mqtt.mark()
            upstream.go_away()
            try:
                await in_thread(mqtt.wait, f"{s}/relay/state", "offline", timeout=15, after=mark)
                started = await cs.transaction("Started", "otx-1", 0, trigger="Authorized", id_token=token,
                                               meter=energy(100, context="Transaction.Begin"))
                assert started.id_token_info["status"] == "Accepted"  # the upstream's last word, given in its place
                await cs.transaction("Updated", "otx-1", 1, charging_state="Charging", meter=energy(300))
                await cs.transaction("Ended", "otx-1", 2, trigger="StopAuthorized", stopped_reason="Local",
                                     meter=energy(400, context="Transaction.End"))
                await in_thread(mqtt.wait, f"{s}/state/meter_stop", "400")
                await in_thread(mqtt.wait, f"{s}/relay/queue", "3", after=mark)
            finally:
                upstream.come_back()
            await in_thread(upstream.wait, lambda e: e[0] == "RC" and e[1] == "TransactionEvent" and e[2]["event_type"] == "Ended", timeout=20)
            await in_thread(mqtt.wait, f"{s}/relay/queue", "0", timeout=20, after=mark)

    run(session())
    replayed = [(a, f) for st, a, f in upstream.received if st == "RC" and a in ("BootNotification", "TransactionEvent")]
    boots = [i for i, (a, _) in enumerate(replayed) if a == "BootNotification"]
    events = [f for a, f in replayed if a == "TransactionEvent"]
    assert [e["seq_no"] for e in events] == [0, 1, 2] and [e["event_type"] for e in events] == ["Started", "Updated", "Ended"]
    assert len(boots) == 2 and boots[1] < len(replayed) - 3  # a fresh boot before what it missed
    assert events[0]["timestamp"] < events[2]["timestamp"]  # the charger's times, not the replay's
