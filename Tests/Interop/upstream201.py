"""An OCPP 2.0.1 upstream central system for relay-mode tests: the Python `ocpp` package's v201 ChargePoint in the
central system's role (it checks every message against the official 2.0.1 schemas), on a websockets server with the
subprotocol ocpp2.0.1. Like upstream.py's: its own heartbeat interval (120 s), its own token list (UP-OK)."""
from datetime import datetime, timezone

from ocpp.routing import on
from ocpp.v201 import ChargePoint, call_result
from ocpp.v201.enums import Action

from upstream import Upstream


def _now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _verdict(token):
    return {"status": "Accepted" if token and token["id_token"] == "UP-OK" else "Invalid"}


class UpstreamCSMS201(ChargePoint):
    def __init__(self, station, connection, upstream):
        super().__init__(station, connection)
        self.upstream = upstream

    def _got(self, action, fields):
        self.upstream.record(self.id, action, fields)

    @on(Action.boot_notification)
    def on_boot(self, **fields):
        self._got("BootNotification", fields)
        return call_result.BootNotification(current_time=_now(), interval=120, status="Accepted")

    @on(Action.heartbeat)
    def on_heartbeat(self, **fields):
        self._got("Heartbeat", fields)
        return call_result.Heartbeat(current_time=_now())

    @on(Action.authorize)
    def on_authorize(self, **fields):
        self._got("Authorize", fields)
        return call_result.Authorize(id_token_info=_verdict(fields["id_token"]))

    @on(Action.transaction_event)
    def on_transaction_event(self, **fields):
        self._got("TransactionEvent", fields)
        token = fields.get("id_token")
        return call_result.TransactionEvent(id_token_info=_verdict(token) if token else None)

    @on(Action.status_notification)
    def on_status(self, **fields):
        self._got("StatusNotification", fields)
        return call_result.StatusNotification()

    @on(Action.meter_values)
    def on_meter_values(self, **fields):
        self._got("MeterValues", fields)
        return call_result.MeterValues()

    @on(Action.notify_event)
    def on_notify_event(self, **fields):
        self._got("NotifyEvent", fields)
        return call_result.NotifyEvent()


class Upstream201(Upstream):
    subprotocol = "ocpp2.0.1"
    central_class = UpstreamCSMS201
