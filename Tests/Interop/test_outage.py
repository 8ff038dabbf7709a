"""Store and forward: every meter reading sent while the broker is down reaches it afterwards, in order, also when
the gateway is killed during the outage (docs/reliability.md)."""
import asyncio
import os
import signal

import pytest

from chargepoint import connected, now, run
from conftest import Broker, Gateway, Watcher
from ocpp.v16 import call

STATIONS = ["CP1", "CP2", "CP3"]
READINGS = 25


@pytest.fixture
def persistent_broker(tmp_path_factory):
    broker = Broker(tmp_path_factory.mktemp("persistent-broker"), persistent=True)
    yield broker
    broker.stop()


def energy(station_index, reading):
    return 100_000 * (station_index + 1) + reading  # unique per station and reading


async def charge_during_outage(gateway, broker, on_outage=None):
    """Three chargers start transactions, the broker goes down, each sends READINGS meter values at full speed."""
    async with connected(gateway.url("CP1")) as cp1, connected(gateway.url("CP2")) as cp2, connected(gateway.url("CP3")) as cp3:
        chargers = [cp1, cp2, cp3]
        transactions = [(await cp.call(call.StartTransaction(connector_id=1, id_tag="TAG-OK", meter_start=0, timestamp=now())))
                        .transaction_id for cp in chargers]
        broker.stop()

        async def readings(index, cp):
            for reading in range(READINGS):
                await cp.call(call.MeterValues(connector_id=1, transaction_id=transactions[index], meter_value=[
                    {"timestamp": now(), "sampledValue": [{"value": str(energy(index, reading)), "unit": "Wh"}]}]))

        await asyncio.gather(*(readings(i, cp) for i, cp in enumerate(chargers)))
        if on_outage:
            on_outage()


def assert_every_reading_arrived_in_order(watcher, base):
    for index, station in enumerate(STATIONS):
        topic = f"{base}/{station}/state/energy_active_import_register"
        expected = [str(energy(index, r)) for r in range(READINGS)]
        watcher.wait(topic, expected[-1], timeout=30)
        with watcher.condition:
            seen = [p for t, p, _ in watcher.messages if t == topic and p in expected]
        # In order; a value may repeat (QoS 1 resends) but never come after a later one.
        distinct = [value for i, value in enumerate(seen) if i == 0 or seen[i - 1] != value]
        assert distinct == expected, f"{station}: {distinct}"


def test_every_reading_sent_during_a_broker_outage_arrives_in_order(tmp_path, persistent_broker, base_path):
    gateway = Gateway(tmp_path, {"MQTT_HOSTNAME": "127.0.0.1", "MQTT_PORT": str(persistent_broker.port),
                                 "MQTT_BASEPATH": base_path, "MQTT_USESTATIONNAME": "true"})
    watcher = Watcher(persistent_broker, f"{base_path}/#", persistent=True)
    try:
        watcher.wait(f"{base_path}/bridge/state", "online")
        run(charge_during_outage(gateway, persistent_broker), timeout=60)
        persistent_broker.start()
        assert_every_reading_arrived_in_order(watcher, base_path)
    finally:
        watcher.close()
        gateway.stop()


def test_every_reading_arrives_even_when_the_gateway_is_killed_during_the_outage(tmp_path, persistent_broker, base_path):
    settings = {"MQTT_HOSTNAME": "127.0.0.1", "MQTT_PORT": str(persistent_broker.port),
                "MQTT_BASEPATH": base_path, "MQTT_USESTATIONNAME": "true"}
    first = Gateway(tmp_path, settings)
    watcher = Watcher(persistent_broker, f"{base_path}/#", persistent=True)
    second = None
    try:
        watcher.wait(f"{base_path}/bridge/state", "online")
        run(charge_during_outage(first, persistent_broker, on_outage=lambda: first.process.send_signal(signal.SIGKILL)), timeout=60)
        first.process.wait(10)
        second = Gateway(tmp_path, settings)  # same DATA_DIR, broker still down
        persistent_broker.start()
        assert_every_reading_arrived_in_order(watcher, base_path)
    finally:
        watcher.close()
        if second:
            second.stop()


def test_a_hung_broker_never_stops_the_charger_and_a_full_outbox_drops_nothing(own_broker, start_gateway, base_path, watch):
    """Issue 19 (docs/reliability.md): the broker is frozen (SIGSTOP: still connected, acknowledging nothing). While
    the outbox has room the charger is answered as usual (it was not: reading from every charger paused at 4,000
    waiting messages). At OUTBOX_MAX_MESSAGES (400 here, 20 MeterValues) MeterValues go unanswered (the outbox
    dropped its oldest tenth before, readings the charger had been told were kept), Heartbeats are still answered,
    and the charger sends the unanswered reading again, as OCPP has it do. When the broker thaws the outbox drains,
    the resent reading is answered, and every reading arrives, in order."""
    gateway = start_gateway(env={"HA_DISCOVERY": "false", "OUTBOX_MAX_MESSAGES": "400", "MQTT_CONNECTOR_1_TOPICS": "true"},
                            on=own_broker)
    watch(f"{base_path}/bridge/state", on=own_broker).wait(f"{base_path}/bridge/state", "online")
    topic = f"{base_path}/CP1/state/energy_active_import_register"
    readings = watch(topic, on=own_broker)

    def meter_values(reading):
        # Eight sampled values, and the whole charger's current and voltage from their phases: 20 kept publications
        # (each on the flat topic and under connector/1).
        values = [{"value": str(1_000_000 + reading), "unit": "Wh"},
                  {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"}]
        for phase in ("L1", "L2", "L3"):
            values.append({"value": "10.5", "measurand": "Current.Import", "phase": phase, "unit": "A"})
            values.append({"value": "230.1", "measurand": "Voltage", "phase": phase, "unit": "V"})
        return call.MeterValues(connector_id=1, meter_value=[{"timestamp": now(), "sampledValue": values}])

    async def scenario():
        async with connected(gateway.url("CP1"), "CP1") as cp:
            cp._response_timeout = 2  # a charger's own call timeout, short for the test
            os.kill(own_broker.process.pid, signal.SIGSTOP)
            try:
                full_at = None
                for reading in range(40):
                    try:
                        await cp.call(meter_values(reading))
                    except asyncio.TimeoutError:
                        full_at = reading
                        break
                # The outbox holds 400 messages at 20 MeterValues: the 21st goes unanswered, not one before.
                assert full_at == 20, f"first unanswered MeterValues: {full_at}"
                await asyncio.wait_for(cp.call(call.Heartbeat()), 2)  # everything else is answered
            finally:
                os.kill(own_broker.process.pid, signal.SIGCONT)
            cp._response_timeout = 10
            await asyncio.to_thread(gateway.wait_for_log, "The outbox has room again", 30)
            for reading in range(full_at, full_at + 5):  # the unanswered one again, then more
                await cp.call(meter_values(reading))
            return full_at + 5

    sent = run(scenario(), timeout=90)
    gateway.wait_for_log("Outbox full")
    expected = [str(1_000_000 + r) for r in range(sent)]
    readings.wait(topic, expected[-1], timeout=30)
    with readings.condition:
        seen = [p for t, p, _ in readings.messages if t == topic]
    distinct = [value for i, value in enumerate(seen) if i == 0 or seen[i - 1] != value]
    assert distinct == expected


def test_with_skip_unchanged_an_equal_reading_is_not_published_and_the_last_comes_back_after_a_broker_restart(
        own_broker, start_gateway, base_path, watch):
    """MQTT_SKIP_UNCHANGED=true: two readings with the same voltage and different energy give one voltage message and
    two energy messages; after the broker restarts (without persistence, so it lost every retained message) the last
    voltage is on it again."""
    gateway = start_gateway({"MQTT_SKIP_UNCHANGED": "true"}, on=own_broker)
    watcher = watch(f"{base_path}/#", on=own_broker)
    voltage, energy = f"{base_path}/CP/state/voltage", f"{base_path}/CP/state/energy_active_import_register"

    def reading(wh):
        return call.MeterValues(connector_id=1, meter_value=[{"timestamp": now(), "sampledValue": [
            {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": "230.0", "measurand": "Voltage", "unit": "V"}]}])

    async def session():
        async with connected(gateway.url("CP"), "CP") as cp:
            for wh in (1000, 1001):
                await cp.call(reading(wh))
                await asyncio.to_thread(watcher.wait, energy, str(wh))
            with watcher.condition:
                counts = {topic: sum(1 for t, _, _ in watcher.messages if t == topic) for topic in (voltage, energy)}
            assert counts == {voltage: 1, energy: 2}, counts
            own_broker.restart()
            again = Watcher(own_broker, voltage)
            try:
                assert await asyncio.to_thread(again.wait, voltage, "230", 20) == "230"
            finally:
                again.close()

    run(session(), timeout=60)
