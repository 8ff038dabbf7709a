"""Security profile 1, the allowlist and connection bounds (docs/security.md)."""
import asyncio
import json
import socket
import time

import pytest
import websockets
from ocpp.v16 import call

from chargepoint import hello, run

PASSWORD = "0123456789abcdef0123"


def handshake_status(url, subprotocols=("ocpp1.6",)):
    """101 when the upgrade succeeded, else the refusal's status (and its headers)."""
    async def attempt():
        try:
            async with websockets.connect(url, subprotocols=list(subprotocols)):
                return 101, {}
        except websockets.InvalidStatus as refused:
            return refused.response.status_code, {k.lower(): v for k, v in refused.response.headers.items()}
    return run(attempt())


def test_profile_1_basic_authentication(start_gateway):
    gateway = start_gateway(env={"OCPP_STATION_PASSWORDS": json.dumps({"CP1": PASSWORD})})
    base = f"127.0.0.1:{gateway.port}"
    assert handshake_status(f"ws://CP1:{PASSWORD}@{base}/ocpp/CP1")[0] == 101
    status, headers = handshake_status(f"ws://CP1:wrong-password@{base}/ocpp/CP1")
    assert status == 401 and headers.get("www-authenticate", "").startswith("Basic")
    assert handshake_status(f"ws://{base}/ocpp/CP1")[0] == 401                      # no credentials
    assert handshake_status(f"ws://CP2:{PASSWORD}@{base}/ocpp/CP1")[0] == 401       # another station's name
    assert handshake_status(f"ws://CP2:{PASSWORD}@{base}/ocpp/CP2")[0] == 401       # a station without a password
    gateway.wait_for_log("ocpp.refusal_code=wrong_password")
    assert not any(PASSWORD in line or "wrong-password" in line for line in gateway.log)


def test_passwords_from_a_mounted_file(start_gateway, tmp_path):
    secrets = tmp_path / "passwords"
    secrets.write_text("# station:password\nCP1:" + PASSWORD + "\n")
    gateway = start_gateway(env={"OCPP_STATION_PASSWORDS_FILE": str(secrets)})
    assert handshake_status(f"ws://CP1:{PASSWORD}@127.0.0.1:{gateway.port}/CP1")[0] == 101
    assert handshake_status(f"ws://CP1:nope@127.0.0.1:{gateway.port}/CP1")[0] == 401


def test_the_allowlist_refuses_unknown_stations_with_404(start_gateway):
    gateway = start_gateway(env={"OCPP_ALLOWED_STATIONS": '["GARAGE"]'})
    assert handshake_status(gateway.url("GARAGE"))[0] == 101
    assert handshake_status(gateway.url("STRANGER"))[0] == 404


def test_the_station_limit_refuses_new_stations_but_lets_known_ones_reconnect(start_gateway):
    gateway = start_gateway(env={"OCPP_MAX_STATIONS": "2"})

    async def session():
        async with websockets.connect(gateway.url("A"), subprotocols=["ocpp1.6"]), \
                websockets.connect(gateway.url("B"), subprotocols=["ocpp1.6"]) as b:
            await hello(b)
            await asyncio.to_thread(gateway.event, "connected", "B")
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(gateway.url("C"), subprotocols=["ocpp1.6"]):
                    pass
            async with websockets.connect(gateway.url("A"), subprotocols=["ocpp1.6"]) as again:
                await again.send('[2,"1","Heartbeat",{}]')
                reply = json.loads(await asyncio.wait_for(again.recv(), 5))
            return refused.value.response.status_code, reply[0]

    assert run(session()) == (503, 3)


def test_silent_connections_are_closed_after_the_handshake_timeout(start_gateway):
    gateway = start_gateway(env={"OCPP_HANDSHAKE_TIMEOUT": "0.5"})
    flood = [socket.create_connection(("127.0.0.1", gateway.port), timeout=5) for _ in range(50)]
    started = time.monotonic()
    try:
        for connection in flood:
            assert connection.recv(1) == b""  # closed by the gateway, having sent nothing
        assert time.monotonic() - started < 4
        # And the gateway still serves chargers.
        assert handshake_status(gateway.url("AFTER"))[0] == 101
    finally:
        for connection in flood:
            connection.close()
