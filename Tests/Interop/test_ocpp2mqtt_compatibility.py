"""A user of ocpp2mqtt switches by changing the image: same env file, topics and commands."""
import asyncio
import json
import subprocess

from ocpp.v16 import call

from chargepoint import connected, now, run
from conftest import GATEWAY, HARNESS, Gateway, Watcher, subscribed


def test_an_ocpp2mqtt_env_file_and_its_readme_command_work_unchanged(tmp_path, broker, watch):
    # ocpp2mqtt's .env.sample, with only the broker address changed to the test broker.
    (tmp_path / ".env").write_text(f"""MQTT_PORT={broker.port}
MQTT_HOSTNAME=127.0.0.1
MQTT_BASEPATH='ocpp/charger1'
MQTT_USERNAME=
MQTT_PASSWORD=
MQTT_TRANSPORT=tcp
MQTT_KEEPALIVE=60
MQTT_TIMEOUT=30
MQTT_RECONNECT_BASE_DELAY=5
MQTT_RECONNECT_MAX_DELAY=60
#MQTT_CLIENT_ID=ocpp2mqtt-charger1
#MQTT_WEBSOCKET_PATH=/mqtt

LISTEN_PORT=0
LISTEN_ADDR=127.0.0.1

AUTHORIZED_TAG_ID_LIST='["johnny-car","uc_default_auth"]'
""")
    live = watch("ocpp/charger1/#")
    gateway = Gateway(tmp_path, {"ENV_FILE": None, "LISTEN_PORT": None, "LISTEN_ADDR": None,
                                 "MQTT_RECONNECT_BASE_DELAY": None, "MQTT_RECONNECT_MAX_DELAY": None,
                                 "AUTHORIZED_TAG_ID_LIST": None}, HARNESS)
    try:
        subscribed(watch, "ocpp/charger1")
        async def session():
            async with connected(gateway.url("charger1")) as cp:
                await cp.call(call.BootNotification(charge_point_vendor="Grizzl-E", charge_point_model="Smart"))
                authorized = (await cp.call(call.Authorize(id_tag="johnny-car"))).id_tag_info["status"]
                await cp.call(call.MeterValues(connector_id=1, meter_value=[{"timestamp": now(), "sampledValue": [
                    {"value": "1234", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]))
                # The ocpp2mqtt README's command, exactly.
                live.publish("ocpp/charger1/cmd", json.dumps(
                    {"op": "change_availability", "message": {"connector_id": 1, "type": "Operative"}}))
                await asyncio.to_thread(live.wait, "ocpp/charger1/cmd_result/status", "Accepted")
                # And the newer form with action/args.
                live.publish("ocpp/charger1/cmd", json.dumps({"action": "charging_enabled", "args": "OFF"}))
                await asyncio.to_thread(live.wait, "ocpp/charger1/state/charging_enabled", "OFF")
                return authorized, cp.received

        authorized, received = run(session())
        assert authorized == "Accepted"
        assert received == [("ChangeAvailability", {"connector_id": 1, "type": "Operative"})]
        # ocpp2mqtt's topics (from its openHAB example), without the station name.
        assert live.wait("ocpp/charger1/state/charge_point_vendor") == "Grizzl-E"
        assert live.wait("ocpp/charger1/state/energy_active_import_register") == "1234"
        assert gateway.wait_for_log("mqtt.client_id=ocppgw-")
    finally:
        assert gateway.stop() == 0


def test_mqtt_over_a_unix_socket(tmp_path, broker, base_path):
    gateway = Gateway(tmp_path, {"MQTT_TRANSPORT": "unix", "MQTT_HOSTNAME": broker.socket_path,
                                 "MQTT_BASEPATH": base_path, "MQTT_USESTATIONNAME": "true"}, HARNESS)
    watcher = Watcher(broker, f"{base_path}/#")
    try:
        async def session():
            async with connected(gateway.url("SOCK")) as cp:
                await cp.call(call.Heartbeat())

        run(session())
        assert watcher.wait(f"{base_path}/SOCK/state/heartbeat") == "ON"
    finally:
        watcher.close()
        assert gateway.stop() == 0


class WebSocketRelay:
    """A broker's WebSocket endpoint as a reverse proxy in front of mosquitto gives it (the Debian mosquitto here
    opens no websockets listener): subprotocol `mqtt` on one path, the bytes of binary frames relayed to the broker's
    TCP port and back. It records each upgrade request's path and headers, and refuses other paths with 404."""

    def __init__(self, broker_port, path="/mqtt"):
        import threading
        from conftest import free_port
        self.port = free_port()
        self.requests = []
        self._stop = None
        ready = threading.Event()

        async def relay(connection):
            reader, writer = await asyncio.open_connection("127.0.0.1", broker_port)

            async def up():
                async for message in connection:
                    if isinstance(message, str):  # MQTT uses binary frames only
                        break
                    writer.write(message)
                    await writer.drain()
                writer.close()

            async def down():
                while data := await reader.read(65536):
                    await connection.send(data)
                await connection.close()

            await asyncio.gather(up(), down(), return_exceptions=True)

        def check(connection, request):
            from http import HTTPStatus
            self.requests.append((request.path, dict(request.headers.raw_items())))
            if request.path != path:
                return connection.respond(HTTPStatus.NOT_FOUND, "no such endpoint\n")
            return None

        async def main():
            from websockets.asyncio.server import serve
            self._stop = asyncio.get_running_loop().create_future()
            async with serve(relay, "127.0.0.1", self.port, subprotocols=["mqtt"], process_request=check):
                ready.set()
                await self._stop

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(main(),), daemon=True)
        self._thread.start()
        assert ready.wait(10), "the relay did not start"

    def close(self):
        self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(10)


def test_mqtt_over_websockets_through_a_relay(tmp_path, broker, base_path):
    relay = WebSocketRelay(broker.port)
    gateway = Gateway(tmp_path, {"MQTT_TRANSPORT": "websockets", "MQTT_HOSTNAME": "127.0.0.1", "MQTT_PORT": str(relay.port),
                                 "MQTT_WEBSOCKET_HEADERS": '{"X-Relay-Token": "abc"}',
                                 "MQTT_BASEPATH": base_path, "MQTT_USESTATIONNAME": "true"}, HARNESS)
    watcher = Watcher(broker, f"{base_path}/#")
    try:
        assert watcher.wait(f"{base_path}/bridge/state") == "online"

        async def session():
            async with connected(gateway.url("WS")) as cp:
                await cp.call(call.Heartbeat())
                await asyncio.to_thread(watcher.wait, f"{base_path}/WS/state/heartbeat", "ON")
                # Subscriptions work through the relay too: a command reaches the charger, its result the broker.
                watcher.publish(f"{base_path}/WS/cmd", json.dumps({"action": "clear_cache", "request_id": "ws-1"}))
                result = await asyncio.to_thread(watcher.wait_json, f"{base_path}/WS/cmd_result", request_id="ws-1")
                return result, cp.received

        result, received = run(session())
        assert result["status"] == "ok" and received == [("ClearCache", {})]
        path, headers = relay.requests[0]
        assert path == "/mqtt"
        assert headers["Sec-WebSocket-Protocol"] == "mqtt" and headers["X-Relay-Token"] == "abc"
        assert gateway.wait_for_log(f"mqtt.broker=ws://127.0.0.1:{relay.port}/mqtt")
    finally:
        watcher.close()
        assert gateway.stop() == 0
        relay.close()


def test_a_wrong_websocket_path_is_logged_and_tried_again(tmp_path, broker):
    relay = WebSocketRelay(broker.port)
    gateway = Gateway(tmp_path, {"MQTT_TRANSPORT": "websockets", "MQTT_HOSTNAME": "127.0.0.1", "MQTT_PORT": str(relay.port),
                                 "MQTT_WEBSOCKET_PATH": "ws"}, HARNESS)
    try:
        assert gateway.wait_for_log("did not accept the upgrade")
        assert relay.requests[0][0] == "/ws"
    finally:
        assert gateway.stop() == 0
        relay.close()


def test_bad_websocket_headers_stop_start_up(tmp_path):
    result = subprocess.run([str(GATEWAY)], env={"MQTT_TRANSPORT": "websockets", "MQTT_WEBSOCKET_HEADERS": "X-Token: abc",
                                                 "ENV_FILE": "", "ADMIN_PORT": "0"}, cwd=tmp_path,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "MQTT_WEBSOCKET_HEADERS='X-Token: abc' is invalid: expected a JSON object of header names" in result.stderr
