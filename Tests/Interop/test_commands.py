"""Commands from the gateway to a charger, answered by the Python ocpp charge point."""
import asyncio

import pytest

from ocpp.v16 import call

from chargepoint import connected, hello, now, run


def test_a_command_is_answered_by_the_charger(gateway):
    async def session():
        async with connected(gateway.url("CP1")) as cp:
            gateway.event("connected", "CP1")
            reset = gateway.command("CP1", "Reset", {"type": "Soft"})
            config = gateway.command("CP1", "GetConfiguration", {"key": ["HeartbeatInterval"]})
            results = await asyncio.to_thread(lambda: [gateway.result(reset), gateway.result(config)])
            return cp.received, results

    received, (reset, config) = run(session())
    assert reset == {"id": reset["id"], "ok": True, "payload": {"status": "Accepted"}}
    assert config["payload"]["configurationKey"][1] == {"key": "NumberOfConnectors", "readonly": True, "value": "2"}
    assert config["payload"]["unknownKey"] == ["Nope"]
    assert ("Reset", {"type": "Soft"}) in received
    assert ("GetConfiguration", {"key": ["HeartbeatInterval"]}) in received


def test_commands_to_one_charger_go_one_at_a_time(gateway):
    """Watches the wire: while the first CALL is unanswered, no second CALL arrives (OCPP-J 4.1.1)."""
    import json
    import websockets

    async def session():
        async with websockets.connect(gateway.url("CP1"), subprotocols=["ocpp1.6"]) as charger:
            await hello(charger)
            await asyncio.to_thread(gateway.event, "connected", "CP1")
            commands = [gateway.command("CP1", "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}),
                        gateway.command("CP1", "ClearCache")]
            first = json.loads(await asyncio.wait_for(charger.recv(), 5))
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(charger.recv(), 0.5)  # nothing else while the first is outstanding
            answers = {"ChangeAvailability": {"status": "Accepted"}, "ClearCache": {"status": "Rejected"}}
            await charger.send(json.dumps([3, first[1], answers[first[2]]]))
            second = json.loads(await asyncio.wait_for(charger.recv(), 5))
            await charger.send(json.dumps([3, second[1], answers[second[2]]]))
            results = await asyncio.to_thread(lambda: [gateway.result(c) for c in commands])
            return {first[2], second[2]}, results

    actions, results = run(session())
    assert actions == {"ChangeAvailability", "ClearCache"}
    assert [r["payload"]["status"] for r in results] == ["Accepted", "Rejected"]


def test_an_accepted_remote_start_authorizes_its_tag(gateway):
    async def session():
        async with connected(gateway.url("CP1")) as cp:
            gateway.event("connected", "CP1")
            command = gateway.command("CP1", "RemoteStartTransaction", {"idTag": "guest-42", "connectorId": 1})
            assert (await asyncio.to_thread(gateway.result, command))["ok"]
            assert (await cp.call(call.Authorize(id_tag="guest-42"))).id_tag_info["status"] == "Accepted"
            started = await cp.call(call.StartTransaction(connector_id=1, id_tag="guest-42", meter_start=0, timestamp=now()))
            assert started.id_tag_info["status"] == "Accepted"

    run(session())


def test_a_command_the_charger_does_not_support_returns_its_call_error(gateway):
    async def session():
        async with connected(gateway.url("CP1")):
            gateway.event("connected", "CP1")
            command = gateway.command("CP1", "UnlockConnector", {"connectorId": 99})
            return await asyncio.to_thread(gateway.result, command)

    result = run(session())
    assert result["ok"] is False
    assert result["kind"] == "call_error"
    assert result["code"] == "NotSupported"


def test_a_command_to_a_station_that_is_not_connected_fails_at_once(gateway):
    result = gateway.result(gateway.command("GHOST", "Reset", {"type": "Soft"}))
    assert result["ok"] is False and result["kind"] == "not_connected"


def test_an_unanswered_command_times_out(start_gateway):
    gateway = start_gateway(env={"OCPP_CALL_TIMEOUT": "0.5"})

    async def session():
        import websockets
        async with websockets.connect(gateway.url("MUTE"), subprotocols=["ocpp1.6"]) as socket:
            await hello(socket)
            await asyncio.to_thread(gateway.event, "connected", "MUTE")
            command = gateway.command("MUTE", "Reset", {"type": "Soft"})
            frame = await asyncio.wait_for(socket.recv(), 5)  # the CALL arrives; the charger never answers
            assert '"Reset"' in frame
            return await asyncio.to_thread(gateway.result, command)

    result = run(session())
    assert result["ok"] is False and result["kind"] == "timeout"
