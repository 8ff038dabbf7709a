"""A charge point built on the Python `ocpp` package, which validates every message against the official schemas."""
import asyncio
import contextlib
from datetime import datetime, timezone

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action


def now():
    return datetime.now(timezone.utc).isoformat()


def run(coroutine, timeout=30):
    """Runs a test coroutine with a deadline."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


class TestChargePoint(ChargePoint):
    """Answers the central system's calls the way a cooperative charger would."""

    received = None

    @on(Action.reset)
    def on_reset(self, type, **_):
        self.received.append(("Reset", {"type": type}))
        return call_result.Reset(status="Accepted")

    @on(Action.get_configuration)
    def on_get_configuration(self, key=None, **_):
        self.received.append(("GetConfiguration", {"key": key}))
        return call_result.GetConfiguration(
            configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "300"},
                               {"key": "NumberOfConnectors", "readonly": True, "value": "2"}],
            unknown_key=["Nope"])

    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag, **kwargs):
        self.received.append(("RemoteStartTransaction", {"id_tag": id_tag, **kwargs}))
        return call_result.RemoteStartTransaction(status="Accepted")

    @on(Action.change_availability)
    def on_change_availability(self, connector_id, type, **_):
        self.received.append(("ChangeAvailability", {"connector_id": connector_id, "type": type}))
        return call_result.ChangeAvailability(status="Accepted")


@contextlib.asynccontextmanager
async def connected(url, station_id="CP", subprotocols=("ocpp1.6",)):
    """A started TestChargePoint on url."""
    async with websockets.connect(url, subprotocols=list(subprotocols) or None) as socket:
        charge_point = TestChargePoint(station_id, socket)
        charge_point.received = []
        task = asyncio.create_task(charge_point.start())
        try:
            yield charge_point
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
