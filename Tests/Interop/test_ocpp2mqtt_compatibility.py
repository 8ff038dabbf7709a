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


def test_mqtt_over_websockets_is_refused_at_start_up(tmp_path):
    result = subprocess.run([str(GATEWAY)], env={"MQTT_TRANSPORT": "websockets", "ENV_FILE": "", "ADMIN_PORT": "0"}, cwd=tmp_path,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "ocpp-gateway: configuration error: MQTT_TRANSPORT='websockets' is invalid: expected tcp or unix "
        "(MQTT over WebSocket is not supported; use the broker's MQTT port)")
