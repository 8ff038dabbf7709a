"""A charge point built on the Python `ocpp` package, which validates every message against the official schemas."""
import asyncio
import contextlib
from datetime import datetime, timezone

import websockets
from ocpp.v16 import call
from ocpp.exceptions import NotSupportedError
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action


def now():
    return datetime.now(timezone.utc).isoformat()


def run(coroutine, timeout=30):
    """Runs a test coroutine with a deadline."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


class TestChargePoint(ChargePoint):
    """Answers every central-system operation the way a cooperative charger would, and records what it got."""

    received = None

    def _got(self, action, fields):
        self.received.append((action, fields))

    @on(Action.reset)
    def on_reset(self, **fields):
        self._got("Reset", fields)
        return call_result.Reset(status="Accepted")

    @on(Action.get_configuration)
    def on_get_configuration(self, **fields):
        self._got("GetConfiguration", fields)
        return call_result.GetConfiguration(
            configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "300"},
                               {"key": "NumberOfConnectors", "readonly": True, "value": "2"}],
            unknown_key=["Nope"])

    @on(Action.remote_start_transaction)
    def on_remote_start(self, **fields):
        self._got("RemoteStartTransaction", fields)
        return call_result.RemoteStartTransaction(status="Accepted")

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, **fields):
        self._got("RemoteStopTransaction", fields)
        return call_result.RemoteStopTransaction(status="Accepted")

    @on(Action.change_availability)
    def on_change_availability(self, **fields):
        self._got("ChangeAvailability", fields)
        return call_result.ChangeAvailability(status="Accepted")

    @on(Action.change_configuration)
    def on_change_configuration(self, **fields):
        self._got("ChangeConfiguration", fields)
        return call_result.ChangeConfiguration(status="RebootRequired")

    @on(Action.clear_cache)
    def on_clear_cache(self, **fields):
        self._got("ClearCache", fields)
        return call_result.ClearCache(status="Accepted")

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, **fields):
        self._got("ClearChargingProfile", fields)
        return call_result.ClearChargingProfile(status=getattr(self, "clear_status", "Unknown"))

    @on(Action.data_transfer)
    def on_data_transfer(self, **fields):
        self._got("DataTransfer", fields)
        return call_result.DataTransfer(status="Accepted", data="pong")

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, **fields):
        self._got("GetCompositeSchedule", fields)
        return call_result.GetCompositeSchedule(
            status="Accepted", connector_id=fields["connector_id"], schedule_start="2026-11-21T13:00:00Z",
            charging_schedule={"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]})

    @on(Action.get_diagnostics)
    def on_get_diagnostics(self, **fields):
        self._got("GetDiagnostics", fields)
        return call_result.GetDiagnostics(file_name="diag.zip")

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **fields):
        self._got("GetLocalListVersion", fields)
        return call_result.GetLocalListVersion(list_version=3)

    @on(Action.reserve_now)
    def on_reserve_now(self, **fields):
        self._got("ReserveNow", fields)
        return call_result.ReserveNow(status="Accepted")

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, **fields):
        self._got("CancelReservation", fields)
        return call_result.CancelReservation(status="Accepted")

    @on(Action.send_local_list)
    def on_send_local_list(self, **fields):
        self._got("SendLocalList", fields)
        return call_result.SendLocalList(status="Accepted")

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, **fields):
        self._got("SetChargingProfile", fields)
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.trigger_message)
    def on_trigger_message(self, **fields):
        self._got("TriggerMessage", fields)
        return call_result.TriggerMessage(status="Accepted")

    @on(Action.unlock_connector)
    def on_unlock_connector(self, **fields):
        self._got("UnlockConnector", fields)
        if fields["connector_id"] == 99:
            raise NotSupportedError(description="there is no connector 99")
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.update_firmware)
    def on_update_firmware(self, **fields):
        self._got("UpdateFirmware", fields)
        return call_result.UpdateFirmware()


@contextlib.asynccontextmanager
async def connected(url, station_id="CP", subprotocols=("ocpp1.6",), announce=True, headers=None):
    """A started TestChargePoint on url. With announce, it sends a Heartbeat first, as real chargers send a message
    right after connecting: the gateway announces (publishes, lists, remembers) a station it does not know yet with
    its first message, not at its handshake."""
    async with websockets.connect(url, subprotocols=list(subprotocols) or None, additional_headers=headers) as socket:
        charge_point = TestChargePoint(station_id, socket)
        charge_point.received = []
        task = asyncio.create_task(charge_point.start())
        try:
            if announce:
                await charge_point.call(call.Heartbeat())
            yield charge_point
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def hello(socket):
    """Sends a Heartbeat on a raw websockets connection and reads its answer: the gateway announces a station it does
    not know yet with its first message, not at its handshake."""
    await socket.send('[2,"hello","Heartbeat",{}]')
    answer = await asyncio.wait_for(socket.recv(), 5)
    assert answer.startswith('[3,"hello"'), answer
