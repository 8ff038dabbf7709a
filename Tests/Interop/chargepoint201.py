"""An OCPP 2.0.1 charging station built on the Python `ocpp` package's v201.ChargePoint, which validates every message
both ways against the official 2.0.1 schemas."""
import asyncio
import contextlib
from datetime import datetime, timedelta, timezone

import websockets
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action


def now(offset_seconds=0):
    return (datetime.now(timezone.utc) + timedelta(seconds=offset_seconds)).isoformat()


def energy(value, unit="Wh", multiplier=None, context=None, timestamp=None, measurand=None):
    """One meter value with one energy register reading."""
    sampled = {"value": value, "unitOfMeasure": {"unit": unit}}
    if multiplier is not None:
        sampled["unitOfMeasure"]["multiplier"] = multiplier
    if context:
        sampled["context"] = context
    if measurand:
        sampled["measurand"] = measurand
    return [{"timestamp": timestamp or now(), "sampledValue": [sampled]}]


# The report the station sends for GetBaseReport, in three parts (seqNo 0, 1, 2).
REPORT = [
    [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
      "variableAttribute": [{"type": "Actual", "value": "300", "mutability": "ReadWrite"}]}],
    [{"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"},
      "variableAttribute": [{"value": "60"}]}],
    [{"component": {"name": "ChargingStation"}, "variable": {"name": "Model"},
      "variableAttribute": [{"value": "W201", "mutability": "ReadOnly"}]}],
]


class TestChargingStation(ChargePoint):
    """Answers every call a central system makes the way a cooperative station would, and records what it got."""

    received = None
    # The order the report's parts are sent in (one out of order by default).
    report_order = (0, 2, 1)

    def _got(self, action, fields):
        self.received.append((action, fields))

    @on(Action.request_start_transaction)
    def on_request_start(self, **fields):
        self._got("RequestStartTransaction", fields)
        return call_result.RequestStartTransaction(status="Accepted")

    @on(Action.request_stop_transaction)
    def on_request_stop(self, **fields):
        self._got("RequestStopTransaction", fields)
        return call_result.RequestStopTransaction(status="Accepted")

    @on(Action.reset)
    def on_reset(self, **fields):
        self._got("Reset", fields)
        return call_result.Reset(status="Accepted")

    @on(Action.unlock_connector)
    def on_unlock(self, **fields):
        self._got("UnlockConnector", fields)
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.change_availability)
    def on_change_availability(self, **fields):
        self._got("ChangeAvailability", fields)
        return call_result.ChangeAvailability(status="Accepted")

    @on(Action.trigger_message)
    def on_trigger(self, **fields):
        self._got("TriggerMessage", fields)
        return call_result.TriggerMessage(status="Accepted")

    @on(Action.get_variables)
    def on_get_variables(self, **fields):
        self._got("GetVariables", fields)
        results = []
        for data in fields["get_variable_data"]:
            known = data["component"]["name"] == "OCPPCommCtrlr" and data["variable"]["name"] == "HeartbeatInterval"
            result = {"attribute_status": "Accepted" if known else "UnknownVariable",
                      "component": data["component"], "variable": data["variable"]}
            if known:
                result["attribute_value"] = "300"
            results.append(result)
        return call_result.GetVariables(get_variable_result=results)

    @on(Action.set_variables)
    def on_set_variables(self, **fields):
        self._got("SetVariables", fields)
        return call_result.SetVariables(set_variable_result=[
            {"attribute_status": "Accepted", "component": data["component"], "variable": data["variable"]}
            for data in fields["set_variable_data"]])

    @on(Action.get_base_report)
    def on_get_base_report(self, **fields):
        self._got("GetBaseReport", fields)
        return call_result.GetBaseReport(status="Accepted")

    @after(Action.get_base_report)
    def after_get_base_report(self, request_id, **fields):
        # Sent from a task of its own: the library answers its own incoming messages on the task that runs this.
        asyncio.get_running_loop().create_task(self._send_report(request_id))

    async def _send_report(self, request_id):
        for seq_no in self.report_order:
            await self.call(call.NotifyReport(request_id=request_id, generated_at=now(), seq_no=seq_no,
                                              report_data=REPORT[seq_no], tbc=seq_no != len(REPORT) - 1))

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, **fields):
        self._got("SetChargingProfile", fields)
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, **fields):
        self._got("ClearChargingProfile", fields)
        return call_result.ClearChargingProfile(status="Accepted")

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, **fields):
        self._got("GetCompositeSchedule", fields)
        return call_result.GetCompositeSchedule(status="Rejected")

    @on(Action.get_transaction_status)
    def on_get_transaction_status(self, **fields):
        self._got("GetTransactionStatus", fields)
        return call_result.GetTransactionStatus(messages_in_queue=False, ongoing_indicator=True)

    @on(Action.clear_cache)
    def on_clear_cache(self, **fields):
        self._got("ClearCache", fields)
        return call_result.ClearCache(status="Accepted")

    @on(Action.data_transfer)
    def on_data_transfer(self, **fields):
        self._got("DataTransfer", fields)
        return call_result.DataTransfer(status="Accepted", data="pong")

    async def boot(self):
        return await self.call(call.BootNotification(
            charging_station={"vendor_name": "Acme Energy", "model": "W201", "serial_number": "S-201",
                              "firmware_version": "2.0.1-a"}, reason="PowerUp"))

    async def status(self, status, evse=1, connector=1):
        return await self.call(call.StatusNotification(timestamp=now(), connector_status=status, evse_id=evse,
                                                       connector_id=connector))

    async def transaction(self, event_type, transaction_id, seq_no, trigger="MeterValuePeriodic", meter=None,
                          charging_state=None, evse=1, id_token=None, offline=None, stopped_reason=None,
                          remote_start_id=None, timestamp=None):
        info = {"transaction_id": transaction_id}
        if charging_state:
            info["charging_state"] = charging_state
        if stopped_reason:
            info["stopped_reason"] = stopped_reason
        if remote_start_id is not None:
            info["remote_start_id"] = remote_start_id
        return await self.call(call.TransactionEvent(
            event_type=event_type, timestamp=timestamp or now(), trigger_reason=trigger, seq_no=seq_no,
            transaction_info=info, meter_value=meter, offline=offline,
            evse={"id": evse, "connector_id": 1} if evse else None, id_token=id_token))


@contextlib.asynccontextmanager
async def connected201(url, station_id="CS1", subprotocols=("ocpp2.0.1",), boot=True):
    """A started TestChargingStation on url; with boot, it sends its BootNotification first (which also announces a
    station the gateway does not know yet)."""
    async with websockets.connect(url, subprotocols=list(subprotocols)) as socket:
        station = TestChargingStation(station_id, socket)
        station.received = []
        task = asyncio.create_task(station.start())
        try:
            if boot:
                await station.boot()
            yield station
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
