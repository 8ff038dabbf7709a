"""Relay mode against an upstream that misbehaves (docs/relay.md): a raw websockets server, not the ocpp package, so
that it can refuse the upgrade with a 401, stay silent, answer twice and reuse its message ids. Each station's
upstream URL comes from RELAY_STATIONS_FILE and names the fault; one fake and one gateway for the module."""
import asyncio
import json

import pytest
import websockets
from websockets.http11 import Response
from websockets.datastructures import Headers

from chargepoint import run
from conftest import broker_gateway
from upstream import ServerThread

BASE = "faults"


class FaultyUpstream(ServerThread):
    """Behaviour by the first path segment: /refuse (401), /silent (reads, never answers), /twice (answers each
    call twice, and sends the charger two calls under one message id when asked)."""

    def __init__(self):
        self.received = []  # (fault, frame)
        self.connections = {}
        super().__init__()

    def serve_options(self):
        return {"process_request": self._refuse}

    def _refuse(self, connection, request):
        if request.path.startswith("/refuse/"):
            return Response(401, "Unauthorized", Headers([("WWW-Authenticate", 'Basic realm="csms"')]), b"who are you?\n")
        return None

    async def _serve(self, connection):
        fault = connection.request.path.split("/")[1]
        self.connections[fault] = connection
        async for text in connection:
            frame = json.loads(text)
            with self.changed:
                self.received.append((fault, frame))
                self.changed.notify_all()
            if fault == "twice" and frame[0] == 2:
                answer = json.dumps([3, frame[1], {"idTagInfo": {"status": "Accepted"}} if frame[2] == "Authorize" else {}])
                await connection.send(answer)
                await connection.send(answer)

    def url(self, fault):
        return f"ws://127.0.0.1:{self.port}/{fault}/{{station}}"

    def wait(self, predicate, timeout=10):
        with self.changed:
            if not self.changed.wait_for(lambda: any(predicate(entry) for entry in self.received), timeout):
                raise TimeoutError(f"the fake upstream received nothing matching; it has {self.received}")
            return next(entry for entry in self.received if predicate(entry))

    def send(self, fault, text):
        asyncio.run_coroutine_threadsafe(self.connections[fault].send(text), self.loop).result(10)


@pytest.fixture(scope="module")
def fake():
    fake = FaultyUpstream()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, broker, fake):
    directory = tmp_path_factory.mktemp("faults")
    stations = directory / "stations.json"
    stations.write_text(json.dumps({station: {"url": fake.url(fault)} for station, fault in
                                    [("F-401", "refuse"), ("F-SILENT", "silent"), ("F-TWICE", "twice")]}))
    gateway = broker_gateway(directory, broker, BASE, {
        "RELAY_URL": fake.url("twice"), "RELAY_STATIONS_FILE": str(stations), "OCPP_CALL_TIMEOUT": "2",
        "RELAY_RECONNECT_MAX_DELAY": "1",
    })
    yield gateway
    gateway.stop()


@pytest.fixture
def mqtt(watch):
    return watch(f"{BASE}/#")


async def no_answer_within(socket, seconds):
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(socket.recv(), seconds)


def test_an_upstream_that_refuses_the_upgrade_is_reported_and_tried_again(gateway, mqtt):
    """A 401: the charger's boot waits (it is not answered for the upstream), MQTT says why, and the gateway tries
    again (a second refusal is logged)."""
    async def session():
        async with websockets.connect(gateway.url("F-401"), subprotocols=["ocpp1.6"]) as charger:
            await charger.send('[2,"h","Heartbeat",{}]')  # answered here: the station is announced
            assert json.loads(await asyncio.wait_for(charger.recv(), 5))[0] == 3
            await charger.send('[2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]')
            await no_answer_within(charger, 2)
            await asyncio.to_thread(mqtt.wait, f"{BASE}/F-401/relay/last_error")
            return mqtt.latest(f"{BASE}/F-401/relay/state")

    assert run(session()) == "connecting"
    assert "refused the WebSocket upgrade" in mqtt.latest(f"{BASE}/F-401/relay/last_error")
    assert mqtt.wait(f"{BASE}/F-401/relay/state", "disabled")  # the charger left: no upstream connection
    assert sum("Cannot reach the upstream" in line and "F-401" in line for line in gateway.log) >= 2


def test_a_silent_upstream_leaves_the_charger_unanswered_and_the_line_moves_on(gateway, fake):
    """The upstream never answers: the charger's Authorize gets no answer (it sends it again by its own rules), the
    gateway logs the timeout after OCPP_CALL_TIMEOUT, and the next message goes up after it."""
    async def session():
        async with websockets.connect(gateway.url("F-SILENT"), subprotocols=["ocpp1.6"]) as charger:
            await charger.send('[2,"a1","Authorize",{"idTag":"TAG-OK"}]')
            await no_answer_within(charger, 3)
            await charger.send('[2,"s1","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Available"}]')
            answer = json.loads(await asyncio.wait_for(charger.recv(), 5))  # answered here, at once
            await asyncio.to_thread(fake.wait, lambda e: e[0] == "silent" and e[1][2] == "StatusNotification", 10)
            return answer

    assert run(session()) == [3, "s1", {}]
    gateway.wait_for_log("did not answer in time")


def test_duplicate_answers_and_reused_call_ids_from_the_upstream(gateway, fake):
    """Each answer comes twice: the charger gets one, the second is dropped. Two upstream calls under one message id
    both reach the charger, under message ids of the gateway's, one after the other, and both answers go back to the
    upstream under its id."""
    async def session():
        async with websockets.connect(gateway.url("F-TWICE"), subprotocols=["ocpp1.6"]) as charger:
            await charger.send('[2,"a1","Authorize",{"idTag":"TAG-OK"}]')
            answer = json.loads(await asyncio.wait_for(charger.recv(), 5))
            await no_answer_within(charger, 1)  # the second answer was dropped
            for _ in range(2):
                await asyncio.to_thread(fake.send, "twice", '[2,"same","TriggerMessage",{"requestedMessage":"StatusNotification"}]')
            ids = []
            for _ in range(2):
                call = json.loads(await asyncio.wait_for(charger.recv(), 5))
                assert call[0] == 2 and call[2] == "TriggerMessage"
                ids.append(call[1])
                await charger.send(json.dumps([3, call[1], {"status": "Accepted"}]))
            await asyncio.to_thread(fake.wait, lambda e: sum(
                1 for fault, frame in fake.received if fault == "twice" and frame == [3, "same", {"status": "Accepted"}]) == 2)
            return answer, ids

    answer, ids = run(session())
    assert answer == [3, "a1", {"idTagInfo": {"status": "Accepted"}}]
    assert len(set(ids)) == 2 and "same" not in ids
