"""The admin API, metrics, logs, shutdown and the example env file (docs/operations.md)."""
import asyncio
import json
import os
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import websockets
from ocpp.v16 import call

from chargepoint import connected, hello, now, run

ROOT = Path(__file__).resolve().parents[2]


def get(gateway, path, token=None):
    """(status, content type, body) of a GET on the admin port, with the admin token if given."""
    request = urllib.request.Request(f"http://127.0.0.1:{gateway.admin_port}{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def poll(produce, accept, timeout=10):
    """Calls produce until accept(result) holds or the deadline passes; returns the last result."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        result = produce()
        if accept(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def metric(text, name, **labels):
    """The value of one sample in Prometheus text, or None."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"([a-z_]+)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(4))
    return None


def test_health_readiness_stations_and_errors(start_gateway):
    gateway = start_gateway()
    assert get(gateway, "/healthz") == (200, "text/plain; charset=utf-8", "ok\n")
    status, kind, body = get(gateway, "/readyz")
    assert status == 200 and kind == "application/json"
    assert json.loads(body)["checks"] == {"ocpp_listener": True, "store": True, "mqtt": True, "mqtt_required": False}

    async def session():
        async with connected(gateway.url("CP1")) as cp:
            await cp.call(call.BootNotification(charge_point_vendor="Acme", charge_point_model="W"))
            # The bridge applies events asynchronously: wait (bounded) for the boot to show.
            return await asyncio.to_thread(poll, lambda: get(gateway, "/api/stations"), lambda r: '"Acme"' in r[2])

    status, _, body = run(session())
    assert status == 200 and json.loads(body)[0]["id"] == "CP1" and json.loads(body)[0]["vendor"] == "Acme"
    assert get(gateway, "/nothing-here")[0] == 404
    request = urllib.request.Request(f"http://127.0.0.1:{gateway.admin_port}/healthz", method="POST", data=b"x")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405


def test_the_admin_token_guards_everything_but_the_probes(start_gateway, tmp_path):
    token_file = tmp_path / "admin-token"
    token_file.write_text("s3cret-from-a-file\n")
    for env, token in [({"ADMIN_TOKEN": "s3cret"}, "s3cret"), ({"ADMIN_TOKEN_FILE": str(token_file)}, "s3cret-from-a-file")]:
        gateway = start_gateway(env=env)
        for path in ["/healthz", "/readyz", "/metrics"]:
            assert get(gateway, path)[0] in (200, 503)
        for path in ["/api/stations", "/api/transactions", "/api/transactions.csv"]:
            assert get(gateway, path)[0] == 401
            assert get(gateway, path, token="wrong")[0] == 401
            assert get(gateway, path, token=token)[0] == 200
        assert gateway.stop() == 0


def test_readiness_can_require_mqtt(start_gateway, own_broker):
    own_broker.stop()
    gateway = start_gateway(env={"READY_REQUIRES_MQTT": "true"}, on=own_broker)
    status, _, body = get(gateway, "/readyz")
    assert status == 503 and json.loads(body)["checks"]["mqtt"] is False
    own_broker.start()
    assert poll(lambda: get(gateway, "/readyz"), lambda r: r[0] == 200, timeout=20)[0] == 200


def test_metrics_move_when_chargers_talk(start_gateway):
    gateway = start_gateway()
    _, kind, before = poll(lambda: get(gateway, "/metrics"), lambda r: metric(r[2], "mqtt_connected") == 1)
    assert kind.startswith("text/plain; version=0.0.4")
    assert metric(before, "ocpp_gateway_build_info") == 1
    assert metric(before, "mqtt_connected") == 1
    # The MQTT client's counters are there from the start, not from their first change.
    assert metric(before, "mqtt_publishes_total") is not None and metric(before, "mqtt_reconnects_total") == 0
    # So are the answered-message counters of every action a charger may send, and only those.
    assert metric(before, "ocpp_messages_total", direction="received", action="MeterValues", outcome="ok") == 0
    assert metric(before, "ocpp_messages_total", direction="received", action="Reset") is None

    async def session():
        async with connected(gateway.url("CP1")) as cp:
            await asyncio.to_thread(gateway.event, "connected", "CP1")
            during = (await asyncio.to_thread(
                poll, lambda: get(gateway, "/metrics"), lambda r: metric(r[2], "ocpp_stations_connected") == 1))[2]
            for _ in range(2):  # and connected()'s own first Heartbeat: 3
                await cp.call(call.Heartbeat())
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
            result = await asyncio.to_thread(gateway.result, gateway.command("CP1", "Reset", {"type": "Soft"}))
            assert result["ok"]
        async with websockets.connect(gateway.url("BAD"), subprotocols=["ocpp1.6"]) as bad:
            await bad.send('[2,"x","FlyToTheMoon",{}]')
            await bad.recv()
        return during

    during = run(session())
    after = poll(lambda: get(gateway, "/metrics"), lambda r: metric(r[2], "ocpp_stations_connected") == 0)[2]
    assert metric(during, "ocpp_stations_connected") == 1
    assert metric(after, "ocpp_stations_connected") == 0
    assert metric(after, "ocpp_messages_total", direction="received", action="Heartbeat", outcome="ok") == 3
    assert metric(after, "ocpp_messages_total", direction="received", action="StatusNotification", outcome="ok") == 1
    assert metric(after, "ocpp_messages_total", direction="sent", action="Reset", outcome="ok") == 1
    assert metric(after, "ocpp_messages_total", direction="received", action="unknown", outcome="error") == 1
    assert metric(after, "ocpp_call_errors_total", direction="sent", code="NotImplemented") == 1
    assert metric(after, "ocpp_call_duration_seconds_count") == 1
    assert metric(after, "mqtt_publishes_total") > metric(before, "mqtt_publishes_total")
    # Everything published was acknowledged, and the gauge says so (it is not left at its last peak).
    settled = poll(lambda: get(gateway, "/metrics"), lambda r: metric(r[2], "mqtt_unacknowledged_messages") == 0)[2]
    assert metric(settled, "mqtt_unacknowledged_messages") == 0


def test_sigterm_closes_chargers_publishes_their_state_and_offline_then_exits_0(start_gateway, watch, base_path):
    gateway = start_gateway(env={"SHUTDOWN_TIMEOUT": "10"})
    live = watch(f"{base_path}/#")

    async def session():
        async with websockets.connect(gateway.url("CP1"), subprotocols=["ocpp1.6"]) as charger:
            await hello(charger)
            await asyncio.to_thread(live.wait, f"{base_path}/CP1/state/connection_state", "CONNECTED")
            gateway.process.send_signal(15)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(charger.recv(), 10)
            return closed.value.rcvd.code

    assert run(session()) == 1001
    assert gateway.wait_exit(15) == 0
    assert live.wait(f"{base_path}/CP1/state/connection_state", "DISCONNECTED")
    assert live.wait(f"{base_path}/CP1/state/disconnect_reason", "going_away")
    assert live.wait(f"{base_path}/bridge/state", "offline")
    # offline comes after the charger's last state.
    messages = list(live.messages)
    last_state = max(i for i, (t, _, _) in enumerate(messages) if t == f"{base_path}/CP1/state/disconnect_reason")
    offline = [i for i, (t, p, _) in enumerate(messages) if t == f"{base_path}/bridge/state" and p == "offline"]
    assert offline and offline[-1] > last_state


def test_json_logs_are_one_object_per_line_and_never_hold_tags(start_gateway, tmp_path):
    log_file = tmp_path / "logs" / "gateway.log"
    gateway = start_gateway(env={"LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG", "LOG_FILE": str(log_file)})

    async def session():
        async with connected(gateway.url("CP1")) as cp:
            await cp.call(call.Authorize(id_tag="johnny-car"))
            await cp.call(call.StartTransaction(connector_id=1, id_tag="johnny-car", meter_start=0, timestamp=now()))

    run(session())
    gateway.wait_for_log("Transaction started")
    assert gateway.stop() == 0
    lines = [line for line in gateway.log if line.strip()]
    objects = [json.loads(line) for line in lines]
    assert all({"time", "level", "message", "source", "metadata"} <= set(o) for o in objects)
    assert any(o["message"] == "Station connected" and o["metadata"]["ocpp.station_id"] == "CP1" for o in objects)
    assert not any("johnny-car" in line for line in lines)
    assert log_file.read_text().splitlines() == [line.rstrip("\n") for line in lines]


def test_the_example_env_file_parses_and_starts_the_gateway(start_gateway, tmp_path):
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    gateway = start_gateway(env={"ENV_FILE": None})
    assert get(gateway, "/healthz")[0] == 200
    assert gateway.stop() == 0


def test_the_healthcheck_subcommand(start_gateway, tmp_path):
    import subprocess
    from conftest import GATEWAY
    gateway = start_gateway()
    probe = lambda port: subprocess.run([str(GATEWAY), "healthcheck"], env={"ADMIN_PORT": str(port)},
                                        capture_output=True, timeout=20).returncode
    assert probe(gateway.admin_port) == 0
    assert gateway.stop() == 0
    assert probe(gateway.admin_port) == 1


def test_the_command_line_asks_only_what_to_do(tmp_path):
    """--help, --version and unknown arguments answer at once and open no port (the ports are held here: a gateway
    that started would fail with "Address already in use" or run on)."""
    import socket
    import subprocess
    from conftest import GATEWAY
    held = []
    for _ in range(2):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        held.append(sock)
    env = {"ENV_FILE": "", "LISTEN_ADDR": "127.0.0.1", "LISTEN_PORT": str(held[0].getsockname()[1]),
           "ADMIN_ADDR": "127.0.0.1", "ADMIN_PORT": str(held[1].getsockname()[1])}
    run_it = lambda *args: subprocess.run([str(GATEWAY), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=20)
    try:
        for flag in ["--help", "-h"]:
            shown = run_it(flag)
            assert shown.returncode == 0, shown.stderr
            for text in ["LISTEN_PORT", "MQTT_HOSTNAME", "MQTT_BASEPATH", "healthcheck", "docs/configuration.md"]:
                assert text in shown.stdout
        version = run_it("--version")
        assert version.returncode == 0 and re.fullmatch(r"ocpp-gateway \d+\.\d+\.\d+\n", version.stdout)
        for args, named in [(["--bogus"], "unknown option '--bogus'"), (["serve"], "unknown command 'serve'"),
                            (["--version", "extra"], "takes no arguments")]:
            refused = run_it(*args)
            assert refused.returncode == 2 and named in refused.stderr and "--help" in refused.stderr
    finally:
        for sock in held:
            sock.close()


def test_ctrl_c_on_the_run_script_stops_the_gateway_cleanly_and_then_its_broker(tmp_path):
    """Ctrl-C sends SIGINT to the script's whole process group. The gateway must take the graceful path once (not
    a second signal from the script's trap), say offline while the broker the script started is still up, and the
    broker must stop after it."""
    import signal
    import socket
    import subprocess
    import time
    from types import SimpleNamespace
    from conftest import GATEWAY, Watcher, free_port
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MQTT_", "LISTEN_", "ADMIN_"))}
    env.update({"GATEWAY_BIN": str(GATEWAY), "MQTT_PORT": str(port), "MQTT_BASEPATH": "runsh", "LISTEN_ADDR": "127.0.0.1",
                "LISTEN_PORT": "0", "ADMIN_ADDR": "127.0.0.1", "ADMIN_PORT": "0", "DATA_DIR": str(tmp_path / "data"),
                "ENV_FILE": ""})
    script = subprocess.Popen([str(ROOT / "scripts" / "run.sh")], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and script.poll() is None, "the script's broker did not start"
                time.sleep(0.1)
        live = Watcher(SimpleNamespace(port=port), "runsh/bridge/state")
        live.wait("runsh/bridge/state", "online", timeout=30)
        mark = len(live.messages)
        os.killpg(script.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        output, _ = script.communicate(timeout=30)
        # offline reached the broker: it was still up when the gateway said goodbye.
        live.wait("runsh/bridge/state", "offline", after=mark, timeout=5)
        live.close()
        assert script.returncode == 0, output
        assert "Second signal" not in output and "Stopped" in output, output
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)


def test_a_second_signal_exits_at_once(start_gateway, own_broker):
    import signal
    import time
    gateway = start_gateway(on=own_broker)
    gateway.wait_for_log("MQTT connected")
    # A frozen broker acknowledges nothing, so the graceful shutdown waits (up to 5 s) for its acknowledgements.
    own_broker.process.send_signal(signal.SIGSTOP)
    try:
        async def session():
            async with connected(gateway.url("CP1")) as cp:
                await cp.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))

        run(session())
        gateway.process.send_signal(signal.SIGTERM)
        gateway.wait_for_log("Closing the charger listener")
        # The gateway's own handler saw the first signal too (the one that counts to two).
        gateway.wait_for_log("Shutdown signal received")
        assert gateway.alive()  # still shutting down gracefully
        started = time.monotonic()
        gateway.process.send_signal(signal.SIGTERM)
        assert gateway.wait_exit(5) == 130
        assert time.monotonic() - started < 2
    finally:
        own_broker.process.send_signal(signal.SIGCONT)


def test_a_signal_while_starting_is_not_lost(tmp_path, broker):
    """SIGTERM at any moment of the start-up ends the gateway: before its handler is installed by the default action,
    after it by a graceful stop once the services have started (before, a signal between the two was only counted
    and the gateway ran on)."""
    import signal
    import subprocess
    import time
    from conftest import GATEWAY
    outcomes = []
    for attempt, delay in enumerate([0, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.06, 0.08, 0.12, 0.2, 0.4]):
        data = tmp_path / f"start-{attempt}"
        data.mkdir()
        environment = {"PATH": os.environ.get("PATH", ""), "ENV_FILE": "", "DATA_DIR": str(data),
                       "LISTEN_ADDR": "127.0.0.1", "LISTEN_PORT": "0", "ADMIN_ADDR": "127.0.0.1", "ADMIN_PORT": "0",
                       "MQTT_HOSTNAME": "127.0.0.1", "MQTT_PORT": str(broker.port), "LOG_LEVEL": "INFO"}
        with open(data / "log", "w") as log:
            process = subprocess.Popen([str(GATEWAY)], env=environment, stdout=log, stderr=log)
            time.sleep(delay)  # the moment of the signal, varied across the start-up (not a synchronisation)
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
                raise AssertionError(f"still running 15 s after SIGTERM at {delay} s:\n" + (data / "log").read_text())
        assert code in (0, -signal.SIGTERM), (data / "log").read_text()
        outcomes.append(code)
    # The later signals reach the handler and stop the gateway gracefully.
    assert outcomes[-1] == 0


def test_transaction_history_as_json_and_csv(start_gateway, tmp_path):
    import csv
    import io
    prices = {"PROVIDER_PRICES": "charger=0.40, mqtt=0.10"}
    first = start_gateway(data_dir=tmp_path, env=prices)

    async def charge(gateway, station, meter_start, meter_stop, stop_id=None):
        async with connected(gateway.url(station)) as cp:
            started = await cp.call(call.StartTransaction(connector_id=1, id_tag="TAG-OK", meter_start=meter_start, timestamp=now()))
            await cp.call(call.StopTransaction(meter_stop=meter_stop, timestamp=now(), transaction_id=stop_id or started.transaction_id,
                                               reason="EVDisconnected"))

    run(charge(first, "GARAGE", 1000, 8500))
    # A transaction open across a restart ends up in the history with its whole energy.
    async def start_only():
        async with connected(first.url("STREET")) as cp:
            return (await cp.call(call.StartTransaction(connector_id=2, id_tag="TAG-OK", meter_start=500, timestamp=now()))).transaction_id
    open_id = run(start_only())

    # A charge started from MQTT (here the harness's console, the same path as <S>/cmd): its provider is mqtt.
    async def remote_charge():
        async with connected(first.url("DRIVEWAY"), "DRIVEWAY") as cp:
            command = first.command("DRIVEWAY", "RemoteStartTransaction", {"idTag": "REMOTE-1", "connectorId": 1})
            assert (await asyncio.to_thread(first.result, command))["ok"]
            started = await cp.call(call.StartTransaction(connector_id=1, id_tag="REMOTE-1", meter_start=0, timestamp=now()))
            await cp.call(call.StopTransaction(meter_stop=2000, timestamp=now(), transaction_id=started.transaction_id))
    run(remote_charge())
    assert first.stop() == 0
    second = start_gateway(data_dir=tmp_path, env=prices)

    async def stop_after_restart():
        async with connected(second.url("STREET")) as cp:
            await cp.call(call.StopTransaction(meter_stop=2500, timestamp=now(), transaction_id=open_id))
    run(stop_after_restart())

    status, kind, body = get(second, "/api/transactions")
    assert status == 200 and kind == "application/json"
    history = json.loads(body)
    assert [(t["station"], t["energy_wh"], t["connector_id"], t["provider"], t["amount"]) for t in history] == [
        ("GARAGE", 7500, 1, "charger", 3.0), ("DRIVEWAY", 2000, 1, "mqtt", 0.2), ("STREET", 2000, 2, "charger", 0.8)]
    assert set(history[0]) == {"transaction_id", "station", "connector_id", "id_tag", "started_at", "stopped_at",
                               "meter_start_wh", "meter_stop_wh", "energy_wh", "stop_reason", "provider", "amount"}
    assert json.loads(get(second, "/api/transactions?station=STREET")[2])[0]["transaction_id"] == open_id
    assert json.loads(get(second, "/api/transactions?since=2999-01-01T00:00:00Z")[2]) == []
    assert get(second, "/api/transactions?since=yesterday")[0] == 400

    status, kind, body = get(second, "/api/transactions.csv?station=GARAGE")
    assert status == 200 and kind.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert list(rows[0]) == ["transaction_id", "station", "connector_id", "id_tag", "started_at", "stopped_at",
                             "meter_start_wh", "meter_stop_wh", "energy_wh", "stop_reason", "provider", "amount"]
    assert rows == [dict(rows[0], station="GARAGE", meter_start_wh="1000", meter_stop_wh="8500", energy_wh="7500",
                         stop_reason="EVDisconnected", connector_id="1", id_tag="TAG-OK", provider="charger", amount="3.0")]
