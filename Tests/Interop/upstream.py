"""An upstream central system for relay-mode tests: the Python `ocpp` package's v16 ChargePoint used on a websockets
server in the central system's role (it checks every message against the official schemas), in a thread of its own.
It answers like a commercial central system would: its own heartbeat interval (120 s), its own tag list (UP-OK), its
own transaction ids (from 4242), and it records what it received and the credentials each station came with."""
import asyncio
import threading
import time
from urllib.parse import unquote
from datetime import datetime, timezone

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.server import serve


def _now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class UpstreamCentralSystem(ChargePoint):
    def __init__(self, station, connection, upstream):
        super().__init__(station, connection)
        self.upstream = upstream

    def _got(self, action, fields):
        self.upstream.record(self.id, action, fields)

    @on(Action.boot_notification)
    def on_boot(self, **fields):
        self._got("BootNotification", fields)
        # A station the upstream does not know yet gets Pending (the charger must then wait to be accepted).
        status = "Pending" if self.id.startswith("PENDING") else "Accepted"
        return call_result.BootNotification(current_time=_now(), interval=120, status=status)

    @on(Action.heartbeat)
    def on_heartbeat(self, **fields):
        self._got("Heartbeat", fields)
        return call_result.Heartbeat(current_time=_now())

    @after(Action.heartbeat)
    def after_heartbeat(self, **fields):
        self._got("Heartbeat answered", fields)  # the answer is on its way: an outage now does not lose it

    @on(Action.authorize)
    def on_authorize(self, **fields):
        self._got("Authorize", fields)
        return call_result.Authorize(id_tag_info={"status": "Accepted" if fields["id_tag"] == "UP-OK" else "Invalid"})

    @on(Action.start_transaction)
    def on_start(self, **fields):
        self._got("StartTransaction", fields)
        return call_result.StartTransaction(transaction_id=self.upstream.next_transaction(), id_tag_info={"status": "Accepted"})

    @on(Action.stop_transaction)
    def on_stop(self, **fields):
        self._got("StopTransaction", fields)
        return call_result.StopTransaction()

    @on(Action.meter_values)
    def on_meter_values(self, **fields):
        self._got("MeterValues", fields)
        return call_result.MeterValues()

    @on(Action.status_notification)
    def on_status(self, **fields):
        self._got("StatusNotification", fields)
        return call_result.StatusNotification()


class ServerThread:
    """A websockets server (subprotocol ocpp1.6, or `subprotocol`) on 127.0.0.1 and a free port, in a thread with its
    own event loop, which outlives the server so that it can go away and come back on the same port (an outage)."""

    subprotocol = "ocpp1.6"

    def __init__(self):
        self.changed = threading.Condition()
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        threading.Thread(target=self._run, args=(started,), daemon=True).start()
        assert started.wait(10), f"{type(self).__name__} did not start"

    def serve_options(self):
        return {}

    def _run(self, started):
        asyncio.set_event_loop(self.loop)

        async def main():
            self.stopped = asyncio.Event()
            self.server = await serve(self._serve, "127.0.0.1", 0, subprotocols=[self.subprotocol], **self.serve_options())
            self.port = self.server.sockets[0].getsockname()[1]
            started.set()
            await self.stopped.wait()

        try:
            self.loop.run_until_complete(main())
        except asyncio.CancelledError:
            pass

    def go_away(self):
        """An outage: stops listening and drops every connection; come_back() listens again on the same port."""
        async def close():
            self.server.close()
            await self.server.wait_closed()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)

    def come_back(self):
        async def listen():
            self.server = await serve(self._serve, "127.0.0.1", self.port, subprotocols=[self.subprotocol], **self.serve_options())
        asyncio.run_coroutine_threadsafe(listen(), self.loop).result(10)

    def stop(self):
        async def close():
            self.server.close()
            await self.server.wait_closed()
            self.stopped.set()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)


class Upstream(ServerThread):
    """The central system: the ocpp package's ChargePoint per station."""

    central_class = UpstreamCentralSystem

    def __init__(self, first_transaction=4242):
        self.received = []  # (station, action, fields), in order
        self.connections = []  # (path, Authorization header)
        self.stations = {}
        self._transaction = first_transaction - 1
        super().__init__()

    async def _serve(self, connection):
        station = unquote(connection.request.path.split("?", 1)[0].rsplit("/", 1)[-1])
        with self.changed:
            self.connections.append((connection.request.path, connection.request.headers.get("Authorization")))
            self.changed.notify_all()
        central = self.central_class(station, connection, self)
        self.stations[station] = central
        try:
            await central.start()
        except Exception:
            pass

    def url(self, path="/ocpp"):
        return f"ws://127.0.0.1:{self.port}{path}"

    def next_transaction(self):
        self._transaction += 1
        return self._transaction

    def record(self, station, action, fields):
        with self.changed:
            self.received.append((station, action, fields))
            self.changed.notify_all()

    def wait(self, predicate, timeout=10):
        """The first received (station, action, fields) that predicate accepts, waiting for it with a deadline."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for entry in self.received:
                    if predicate(entry):
                        return entry
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"the upstream received nothing matching; it has {self.received}")
                self.changed.wait(remaining)

    def actions(self, station):
        """What the station sent, in order (the upstream's own notes left out)."""
        with self.changed:
            return [action for s, action, _ in self.received if s == station and not action.endswith(" answered")]

    def call(self, station, payload, timeout=10):
        """Makes the upstream call the station (through the gateway) and returns the answer."""
        return asyncio.run_coroutine_threadsafe(self.stations[station].call(payload), self.loop).result(timeout)

    def count(self, station, action):
        with self.changed:
            return sum(1 for s, a, _ in self.received if s == station and a == action)
