"""A charger's whole life against the gateway, with the Python ocpp package as the charge point."""
import asyncio

import websockets
from ocpp.v16 import call

from chargepoint import connected, now, run


def test_every_charger_message_gets_a_schema_valid_answer(gateway):
    async def session():
        async with connected(gateway.url("site/CP%201")) as cp:
            boot = await cp.call(call.BootNotification(
                charge_point_vendor="Acme", charge_point_model="Wallbox", firmware_version="1.2.3",
                charge_point_serial_number="S-1"))
            assert boot.status == "Accepted"
            assert boot.interval == 300
            assert boot.current_time.endswith("Z")
            assert (await cp.call(call.Heartbeat())).current_time.endswith("Z")
            await cp.call(call.StatusNotification(connector_id=0, error_code="NoError", status="Available"))
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing",
                                                  info="plugged", vendor_error_code="E0"))
            assert (await cp.call(call.Authorize(id_tag="TAG-OK"))).id_tag_info["status"] == "Accepted"
            assert (await cp.call(call.Authorize(id_tag="johnny-car"))).id_tag_info["status"] == "Accepted"
            assert (await cp.call(call.Authorize(id_tag="stranger"))).id_tag_info["status"] == "Invalid"

            started = await cp.call(call.StartTransaction(connector_id=1, id_tag="TAG-OK", meter_start=1000, timestamp=now()))
            assert started.id_tag_info["status"] == "Accepted"
            refused = await cp.call(call.StartTransaction(connector_id=2, id_tag="stranger", meter_start=0, timestamp=now()))
            assert refused.id_tag_info["status"] == "Invalid"
            assert refused.transaction_id > started.transaction_id

            await cp.call(call.MeterValues(connector_id=1, transaction_id=started.transaction_id, meter_value=[
                {"timestamp": now(), "sampledValue": [
                    {"value": "1.5", "unit": "kWh"},
                    {"value": "7.4", "measurand": "Power.Active.Import", "unit": "kW"},
                    {"value": "16", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
                    {"value": "15", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
                    {"value": "14", "measurand": "Current.Import", "phase": "L3", "unit": "A"}]},
                {"timestamp": now(), "sampledValue": [{"value": "1600"}]},
            ]))
            # Without reason or idTag: the reference answered this with InternalError.
            await cp.call(call.StopTransaction(meter_stop=2500, timestamp=now(), transaction_id=started.transaction_id))
            await cp.call(call.StopTransaction(meter_stop=1, timestamp=now(), transaction_id=999_999, reason="Other",
                                               id_tag="TAG-OK", transaction_data=[
                                                   {"timestamp": now(), "sampledValue": [{"value": "1"}]}]))
            assert (await cp.call(call.DataTransfer(vendor_id="com.acme", message_id="hello", data="x"))).status == "UnknownVendorId"
            await cp.call(call.DiagnosticsStatusNotification(status="Uploaded"))
            await cp.call(call.FirmwareStatusNotification(status="Installed"))
            await cp.call(call.SecurityEventNotification(type="StartupOfTheDevice", timestamp=now(), tech_info="boot"))
            await cp.call(call.SignedFirmwareStatusNotification(status="SignatureVerified", request_id=1))
            await cp.call(call.LogStatusNotification(status="Uploaded", request_id=2))

    run(session())
    assert gateway.event("connected", "CP 1")["subprotocol"] == "ocpp1.6"
    meter = gateway.event("message", "CP 1", action="MeterValues")
    assert [(s["measurand"], s["phase"], s["unit"], s["value"]) for s in meter["samples"]] == [
        ("Energy.Active.Import.Register", "", "Wh", 1500),
        ("Power.Active.Import", "", "W", 7400),
        ("Current.Import", "L1", "A", 16),
        ("Current.Import", "L2", "A", 15),
        ("Current.Import", "L3", "A", 14),
        ("Energy.Active.Import.Register", "", "Wh", 1600),
    ]
    assert gateway.event("message", "CP 1", action="StopTransaction")["known"] is True
    assert gateway.event("message", "CP 1", action="StopTransaction")["known"] is False
    assert gateway.event("disconnected", "CP 1")["reason"] == "normal_closure"


def test_charging_switch_blocks_the_station(gateway):
    assert gateway.set_charging("CP1", False)["ok"]

    async def session():
        async with connected(gateway.url("CP1")) as cp:
            assert (await cp.call(call.Authorize(id_tag="TAG-OK"))).id_tag_info["status"] == "Blocked"
            started = await cp.call(call.StartTransaction(connector_id=1, id_tag="TAG-OK", meter_start=0, timestamp=now()))
            assert started.id_tag_info["status"] == "Blocked"
        async with connected(gateway.url("CP2")) as other:
            assert (await other.call(call.Authorize(id_tag="TAG-OK"))).id_tag_info["status"] == "Accepted"

    run(session())


def test_a_charger_that_offers_no_subprotocol_is_served_as_1_6(gateway):
    async def session():
        async with connected(gateway.url("NOPROTO"), subprotocols=()) as cp:
            assert cp._connection.subprotocol is None
            assert (await cp.call(call.Heartbeat())).current_time

    run(session())
    assert gateway.event("connected", "NOPROTO")["subprotocol"] == ""


def test_a_charger_that_reconnects_without_booting_is_served(gateway):
    async def session():
        async with connected(gateway.url("CP1")) as cp:
            await cp.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        async with connected(gateway.url("CP1")) as cp:
            assert (await cp.call(call.Heartbeat())).current_time
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))

    run(session())


def test_transaction_ids_continue_after_a_restart(start_gateway, tmp_path):
    async def start_one(gateway):
        async with connected(gateway.url("CP1")) as cp:
            return (await cp.call(call.StartTransaction(connector_id=1, id_tag="TAG-OK", meter_start=0, timestamp=now()))).transaction_id

    first = start_gateway(data_dir=tmp_path)
    ids = [run(start_one(first)), run(start_one(first))]
    assert first.stop() == 0
    second = start_gateway(data_dir=tmp_path)
    ids.append(run(start_one(second)))
    assert ids == sorted(set(ids)) and len(ids) == 3


def test_the_charging_switch_survives_a_restart(start_gateway, tmp_path):
    first = start_gateway(data_dir=tmp_path)
    first.set_charging("CP1", False)
    assert first.stop() == 0
    second = start_gateway(data_dir=tmp_path)

    async def session():
        async with connected(second.url("CP1")) as cp:
            return (await cp.call(call.Authorize(id_tag="TAG-OK"))).id_tag_info["status"]

    assert run(session()) == "Blocked"
