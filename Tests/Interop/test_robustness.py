"""Bad input and odd connections: precise answers, no crash, no effect on other chargers."""
import asyncio
import json
import socket
import urllib.error
import urllib.request

import pytest
import websockets
from ocpp.v16 import call

from chargepoint import connected, hello, now, run

MALFORMED = [
    ("hello", "-1", "FormationViolation"),
    ('{"not": "an array"}', "-1", "FormationViolation"),
    ("[]", "-1", "ProtocolError"),
    ('[2,"m1","Heartbeat"]', "m1", "ProtocolError"),
    ('[2,"m2","Heartbeat",[]]', "m2", "FormationViolation"),
    ('[2,"m3","Heartbeat",{}', "m3", "FormationViolation"),
    ('[2,"m4","FlyToTheMoon",{}]', "m4", "NotImplemented"),
    ('[2,"m5","RemoteStartTransaction",{"idTag":"x"}]', "m5", "NotSupported"),
    ('[2,"m6","Authorize",{}]', "m6", "OccurenceConstraintViolation"),
    ('[2,"m7","Authorize",{"idTag":5}]', "m7", "TypeConstraintViolation"),
    ('[2,"m8","Authorize",{"idTag":"123456789012345678901"}]', "m8", "PropertyConstraintViolation"),
    ('[2,"m9","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Dancing"}]', "m9", "PropertyConstraintViolation"),
    ('[2,"m10","MeterValues",{"connectorId":1,"meterValue":[]}]', "m10", "OccurenceConstraintViolation"),
    ('[2,"m11","StartTransaction",{"connectorId":1,"idTag":"A","meterStart":0,"timestamp":"noon"}]', "m11", "PropertyConstraintViolation"),
    ('[2,"0123456789012345678901234567890123456","Heartbeat",{}]', "0123456789012345678901234567890123456", "FormationViolation"),
]


def test_malformed_frames_get_the_specs_call_error_and_never_disturb_another_charger(gateway):
    async def session():
        async with connected(gateway.url("GOOD")) as good:
            async with websockets.connect(gateway.url("BAD"), subprotocols=["ocpp1.6"]) as bad:
                for text, message_id, code in MALFORMED:
                    await bad.send(text)
                    reply = json.loads(await asyncio.wait_for(bad.recv(), 5))
                    assert reply[:3] == [4, message_id, code], (text, reply)
                    assert isinstance(reply[3], str) and reply[4] == {}
                    assert (await good.call(call.Heartbeat())).current_time
                # Answers to nothing and broken answers are not answered; the session goes on.
                await bad.send('[3,"nobody-asked",{}]')
                await bad.send('[3,"broken"]')
                await bad.send('[2,"after","Heartbeat",{}]')
                reply = json.loads(await asyncio.wait_for(bad.recv(), 5))
                assert reply[0] == 3 and reply[1] == "after"

    run(session())
    assert gateway.alive()


def test_an_oversized_message_closes_only_that_charger_with_1009(start_gateway):
    gateway = start_gateway(env={"OCPP_MAX_FRAME_SIZE": "2048"})

    async def session():
        async with connected(gateway.url("GOOD")) as good:
            for fragmented in (False, True):
                async with websockets.connect(gateway.url("BIG"), subprotocols=["ocpp1.6"], max_size=None) as big:
                    await hello(big)
                    payload = '[2,"x","DataTransfer",{"vendorId":"v","data":"' + "x" * 4096 + '"}]'
                    # The close may come while the fragments are still going out, and then the send itself ends
                    # with the gateway's close frame.
                    with pytest.raises(websockets.ConnectionClosed) as closed:
                        await big.send([payload[i:i + 512] for i in range(0, len(payload), 512)] if fragmented else payload)
                        await asyncio.wait_for(big.recv(), 5)
                    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
                assert (await good.call(call.Heartbeat())).current_time

    run(session())
    assert gateway.event("disconnected", "BIG")["reason"] == "message_too_large"


class RawWebSocket:
    """A charger's WebSocket at the byte level, for what a WebSocket library hides: the order of frames and the
    end of the TCP stream. Blocking, with a timeout on every read."""

    def __init__(self, port, station, announce=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall((f"GET /{station} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        if announce:  # the gateway announces a station it does not know yet with its first message
            self.send_frame(0x1, b'[2,"hello","Heartbeat",{}]')
            opcode, answer = self.read_frame()
            assert opcode == 0x1 and answer.startswith(b'[3,"hello"'), answer

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self.buffer += chunk

    def send_frame(self, opcode, payload, fin=True):
        mask = b"\x11\x22\x33\x44"
        length = len(payload)
        header = bytes([(0x80 if fin else 0) | opcode])
        header += bytes([0x80 | length]) if length < 126 else bytes([0x80 | 126]) + length.to_bytes(2, "big")
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def read_frame(self):
        """(opcode, payload) of the next frame from the gateway (unmasked, short frames only)."""
        while len(self.buffer) < 2 or len(self.buffer) < 2 + (self.buffer[1] & 0x7F):
            self._fill()
        length = self.buffer[1] & 0x7F
        assert length < 126
        frame, self.buffer = self.buffer[:2 + length], self.buffer[2 + length:]
        return frame[0] & 0x0F, frame[2:]

    def read_to_end(self):
        """Everything until the gateway ends the stream; a reset raises ConnectionResetError."""
        rest = self.buffer
        while chunk := self.sock.recv(65536):
            rest += chunk
        return rest


@pytest.mark.parametrize("fragmented", [False, True])
def test_a_charger_still_sending_when_closed_for_1009_gets_a_clean_close(start_gateway, fragmented):
    # The gateway keeps reading after its close frame until the charger answers it or ends its stream. Closing the
    # socket at once made the kernel answer the rest of the charger's message with a reset.
    gateway = start_gateway(env={"OCPP_MAX_FRAME_SIZE": "2048"})
    charger = RawWebSocket(gateway.port, "LATE")
    try:
        if fragmented:
            charger.send_frame(0x1, b"[" + b"1," * 700, fin=False)
            charger.send_frame(0x0, b"1," * 700, fin=False)
        else:
            charger.send_frame(0x1, b"[" + b"1," * 1500 + b"1]")
        opcode, payload = charger.read_frame()
        assert (opcode, int.from_bytes(payload[:2], "big")) == (0x8, 1009)
        # What the charger had in flight, then its answer to the close: nothing is refused.
        charger.send_frame(0x0, b"1," * 60, fin=False)
        charger.send_frame(0x0, b"1]")
        charger.send_frame(0x8, (1009).to_bytes(2, "big"))
        assert charger.read_to_end() == b""
    finally:
        charger.sock.close()
    assert gateway.event("disconnected", "LATE")["reason"] == "message_too_large"


def test_a_charger_that_never_answers_the_close_is_let_go(start_gateway):
    gateway = start_gateway(env={"OCPP_MAX_FRAME_SIZE": "2048"})
    charger = RawWebSocket(gateway.port, "MUTE")
    try:
        charger.send_frame(0x1, b"[" + b"1," * 1500 + b"1]")
        opcode, payload = charger.read_frame()
        assert (opcode, int.from_bytes(payload[:2], "big")) == (0x8, 1009)
        # The gateway ended its side with the close frame. The charger keeps its side open and says nothing: the
        # gateway closes the connection after its close timeout (3 s), and the charger is disconnected.
        assert charger.read_to_end() == b""
        assert gateway.event("disconnected", "MUTE", timeout=10)["reason"] == "message_too_large"
    finally:
        charger.sock.close()


def test_a_binary_frame_closes_that_charger_with_1003(gateway):
    async def session():
        async with websockets.connect(gateway.url("BIN"), subprotocols=["ocpp1.6"]) as charger:
            await hello(charger)
            await charger.send(b'[2,"1","Heartbeat",{}]')
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(charger.recv(), 5)
            assert closed.value.rcvd.code == 1003

    run(session())
    assert gateway.event("disconnected", "BIN")["reason"] == "unsupported_data"


@pytest.mark.parametrize("path,subprotocols,status", [
    ("/", ["ocpp1.6"], 404),
    ("/a%23b", ["ocpp1.6"], 400),
    ("/a+b", ["ocpp1.6"], 400),
    ("/a%00b", ["ocpp1.6"], 400),
    ("/CP1", ["ocpp2.1"], 400),  # a version the gateway does not speak (2.0.1 it does: test_ocpp201.py)
])
def test_bad_handshakes_are_refused_before_the_upgrade(gateway, path, subprotocols, status):
    async def attempt():
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(f"ws://127.0.0.1:{gateway.port}{path}", subprotocols=subprotocols):
                pass
        return refused.value.response.status_code

    assert run(attempt()) == status
    assert "http.status=%d" % status in gateway.wait_for_log("Charger connection refused")


def test_plain_http_gets_426(gateway):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{gateway.port}/CP1", timeout=5)
    assert refused.value.code == 426


def test_the_same_station_connecting_again_replaces_the_first_connection(gateway):
    async def session():
        async with websockets.connect(gateway.url("TWIN"), subprotocols=["ocpp1.6"]) as first:
            await hello(first)
            await asyncio.to_thread(gateway.event, "connected", "TWIN")
            async with connected(gateway.url("TWIN")) as second:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(first.recv(), 5)
                assert closed.value.rcvd.code == 1000
                assert (await second.call(call.Heartbeat())).current_time
                result = await asyncio.to_thread(gateway.result, gateway.command("TWIN", "Reset", {"type": "Soft"}))
                assert result["ok"] and second.received == [("Reset", {"type": "Soft"})]

    run(session())
    assert gateway.event("disconnected", "TWIN")["reason"] == "replaced"


def test_a_dead_peer_is_detected_by_ping(start_gateway):
    gateway = start_gateway(env={"OCPP_PING_INTERVAL": "0.2", "OCPP_PING_TIMEOUT": "0.3"})
    # A charger that completes the handshake (checked by RawWebSocket) and then never answers anything.
    silent = RawWebSocket(gateway.port, "SILENT")
    try:
        assert b"\x89" in silent.read_to_end()  # at least one ping frame came before the close
    finally:
        silent.sock.close()
    assert gateway.event("disconnected", "SILENT")["reason"] == "timeout"


def test_sigterm_closes_chargers_with_1001_and_exits_0(gateway):
    async def session():
        async with websockets.connect(gateway.url("CP1"), subprotocols=["ocpp1.6"]) as charger:
            await hello(charger)
            await asyncio.to_thread(gateway.event, "connected", "CP1")
            gateway.process.send_signal(15)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(charger.recv(), 10)
            return closed.value.rcvd.code

    assert run(session()) == 1001
    assert gateway.wait_exit() == 0


def test_the_gateway_binary_refuses_a_bad_setting_in_one_line(start_gateway, tmp_path):
    import subprocess
    from conftest import GATEWAY
    result = subprocess.run([str(GATEWAY)], env={"LISTEN_PORT": "abc", "ENV_FILE": "", "ADMIN_PORT": "0"}, cwd=tmp_path,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == "ocpp-gateway: configuration error: LISTEN_PORT='abc' is invalid: expected a port number from 0 to 65535"


def test_a_taken_port_is_reported_in_one_clear_line(tmp_path, broker):
    import subprocess
    from conftest import GATEWAY
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run([str(GATEWAY)], env={"LISTEN_ADDR": "127.0.0.1", "LISTEN_PORT": str(port), "ENV_FILE": "", "ADMIN_PORT": "0",
                                                    "DATA_DIR": str(tmp_path), "MQTT_HOSTNAME": "127.0.0.1",
                                                    "MQTT_PORT": str(broker.port)},
                                cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert f"cannot listen for chargers on 127.0.0.1:{port} (LISTEN_ADDR, LISTEN_PORT): Address already in use" in result.stderr
