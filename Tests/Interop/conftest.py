"""Starts a real mosquitto broker and the real gateway (the interop harness build: the gateway plus a
JSON-lines console) for each test.

Everything listens on 127.0.0.1: the gateway on a port it picks itself (LISTEN_PORT=0), read from its log line;
the broker on a free port, checked to be the broker this suite started. Every wait is bounded by a deadline.
"""
import itertools
import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESS = Path(os.environ.get("OCPP_TEST_HARNESS", ROOT / ".build" / "debug" / "ocpp-test-harness"))
GATEWAY = Path(os.environ.get("OCPP_GATEWAY_BIN", ROOT / ".build" / "debug" / "ocpp-gateway"))
# Text lines say `ocpp.listen_address=127.0.0.1:N`, JSON lines `"ocpp.listen_address":"127.0.0.1:N"`.
LISTENING = re.compile(r'Listening for chargers.*ocpp\.listen_address"?[=:]"?[0-9.]+:(\d+)')
ADMIN_LISTENING = re.compile(r'Admin API listening.*admin\.listen_address"?[=:]"?[0-9.]+:(\d+)')


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Broker:
    """A mosquitto of our own on a free loopback port (and a Unix socket), without persistence."""

    def __init__(self, directory, extra="", persistent=False):
        self.directory = Path(directory)
        self.extra = extra
        self.persistent = persistent
        self.port = free_port()
        self.socket_path = str(self.directory / "mosquitto.sock")
        self.process = None
        self.start()

    def start(self, timeout=10):
        config = self.directory / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\nlistener 0 {self.socket_path}\nallow_anonymous true\n"
            + (f"persistence true\npersistence_location {self.directory}/\nautosave_interval 0\n" if self.persistent else "persistence false\n")
            + "log_dest stderr\n" + self.extra
            # Started as root, mosquitto would switch to its own user, which cannot use pytest's directories.
            + ("user root\n" if os.geteuid() == 0 else ""))
        self.process = subprocess.Popen(["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("mosquitto exited: " + self.process.stderr.read())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                if self.process.poll() is None:  # ours answers, not someone else's
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def restart(self):
        self.stop()
        self.start()


class Watcher:
    """An MQTT client that records everything under a topic filter, retained or live."""

    _ids = itertools.count()

    def __init__(self, broker, topic_filter, persistent=False):
        """With persistent, the watcher keeps its session on the broker: what is published while it reconnects
        (after a broker restart) is queued for it."""
        self.messages = []
        self.condition = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"watcher-{os.getpid()}-{next(self._ids)}",
                                  clean_session=not persistent)
        self.client.reconnect_delay_set(0.1, 0.5)
        subscribed = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic_filter, qos=1)
        self.client.on_subscribe = lambda c, u, mid, codes, p: subscribed.set()
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise RuntimeError("watcher could not subscribe")

    def _on_message(self, client, userdata, message):
        with self.condition:
            self.messages.append((message.topic, message.payload.decode("utf-8", "replace"), bool(message.retain)))
            self.condition.notify_all()

    def wait(self, topic, payload=None, timeout=10, after=0):
        """The first message on topic (with payload, if given) at index >= after; its payload."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while True:
                for t, p, _ in self.messages[after:]:
                    if t == topic and (payload is None or p == payload):
                        return p
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = "\n".join(f"{t} {p}" for t, p, _ in self.messages[-40:])
                    raise TimeoutError(f"no {topic} = {payload!r}; last messages:\n{seen}")
                self.condition.wait(remaining)

    def wait_json(self, topic, timeout=10, after=0, **fields):
        """The first JSON document on topic whose fields match."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while True:
                for t, p, _ in self.messages[after:]:
                    if t == topic:
                        document = json.loads(p)
                        if all(document.get(k) == v for k, v in fields.items()):
                            return document
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no document on {topic} with {fields}")
                self.condition.wait(remaining)

    def wait_json_list(self, topic, predicate, timeout=10):
        """The first JSON list on topic for which predicate holds."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while True:
                for t, p, _ in self.messages:
                    if t == topic and predicate(json.loads(p)):
                        return json.loads(p)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [p for t, p, _ in self.messages if t == topic][-10:]
                    raise TimeoutError(f"no matching list on {topic}; the last ones: {seen}")
                self.condition.wait(remaining)

    def latest(self, topic):
        with self.condition:
            for t, p, _ in reversed(self.messages):
                if t == topic:
                    return p
        return None

    def mark(self):
        with self.condition:
            return len(self.messages)

    def topics(self):
        with self.condition:
            return {t for t, _, _ in self.messages}

    def publish(self, topic, payload, retain=False):
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


class Gateway:
    """One running gateway process with its console."""

    def __init__(self, data_dir, env=None, binary=HARNESS):
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "LISTEN_ADDR": "127.0.0.1",
            "LISTEN_PORT": "0",
            "DATA_DIR": str(data_dir),
            "AUTHORIZED_TAG_ID_LIST": '["TAG-OK","johnny-car"]',
            "LOG_LEVEL": "INFO",
            "ENV_FILE": "",
            "MQTT_RECONNECT_BASE_DELAY": "0.2",
            "MQTT_RECONNECT_MAX_DELAY": "1",
            "ADMIN_ADDR": "127.0.0.1",
            "ADMIN_PORT": "0",
            # Two loops, so that the hand-overs between them are exercised on any machine; the load generator's
            # smoke tests run with the default (one loop on CI's 2 cores).
            "EVENT_LOOP_THREADS": "2",
        }
        environment.update(env or {})
        environment = {key: value for key, value in environment.items() if value is not None}  # None: leave unset
        self.process = subprocess.Popen(
            [str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=environment, cwd=str(data_dir), text=True, bufsize=1)
        self.lines = queue.Queue()
        self.log = []
        self.log_changed = threading.Condition()
        self.port = None
        self.admin_port = None
        self._ids = 0
        self._pending = []
        port_found = threading.Event()

        def read_stderr():
            for line in self.process.stderr:
                with self.log_changed:
                    self.log.append(line)
                    self.log_changed.notify_all()
                admin = ADMIN_LISTENING.search(line)
                if admin:
                    self.admin_port = int(admin.group(1))
                match = LISTENING.search(line)
                if match and self.port is None:
                    self.port = int(match.group(1))
                if self.port is not None and self.admin_port is not None:
                    port_found.set()

        def read_stdout():
            for line in self.process.stdout:
                self.lines.put(json.loads(line))

        threading.Thread(target=read_stderr, daemon=True).start()
        threading.Thread(target=read_stdout, daemon=True).start()
        if not port_found.wait(30):
            self.stop()
            raise RuntimeError("gateway did not start listening:\n" + "".join(self.log))

    def wait_for_log(self, text, timeout=10):
        """The first log line containing text (waiting for it, with a deadline)."""
        deadline = time.monotonic() + timeout
        with self.log_changed:
            while True:
                for line in self.log:
                    if text in line:
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no log line with {text!r}")
                self.log_changed.wait(remaining)

    def url(self, station):
        return f"ws://127.0.0.1:{self.port}/{station}"

    def next_line(self, predicate, timeout=10):
        """The next console line matching predicate (lines seen on the way are kept for later calls)."""
        deadline = time.monotonic() + timeout
        for index, line in enumerate(self._pending):
            if predicate(line):
                return self._pending.pop(index)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no matching console line; log:\n" + "".join(self.log[-30:]))
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if predicate(line):
                return line
            self._pending.append(line)

    def event(self, kind, station, timeout=10, **fields):
        return self.next_line(
            lambda l: l.get("event") == kind and l.get("station") == station
            and all(l.get(k) == v for k, v in fields.items()), timeout)

    def command(self, station, action, payload=None):
        """Starts a command; returns its id (read the result with result(id))."""
        self._ids += 1
        command_id = str(self._ids)
        self.process.stdin.write(json.dumps({"id": command_id, "station": station, "action": action,
                                             "payload": payload or {}}) + "\n")
        self.process.stdin.flush()
        return command_id

    def set_charging(self, station, enabled):
        self._ids += 1
        command_id = str(self._ids)
        self.process.stdin.write(json.dumps({"id": command_id, "station": station, "charging_enabled": enabled}) + "\n")
        self.process.stdin.flush()
        return self.result(command_id)

    def result(self, command_id, timeout=10):
        return self.next_line(lambda l: l.get("id") == command_id, timeout)

    def stop(self, timeout=15):
        """SIGTERM, and the exit code (the gateway must stop on its own within the timeout)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            raise

    def wait_exit(self, timeout=25):
        """The exit code, waiting (bounded) without sending a signal; on a timeout the error shows the log's end."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"gateway still running after {timeout} s; log:\n" + "".join(self.log[-30:])) from None

    def alive(self):
        return self.process.poll() is None


def broker_gateway(directory, broker, base, env):
    """A gateway on the test broker with a topic tree of its own (`base`, one subtree per station), and `env`."""
    return Gateway(directory, {"MQTT_HOSTNAME": "127.0.0.1", "MQTT_PORT": str(broker.port), "MQTT_BASEPATH": base,
                               "MQTT_USESTATIONNAME": "true", **env})


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """One broker for the tests that do not stop it; each test has its own base path."""
    shared = Broker(tmp_path_factory.mktemp("broker"))
    yield shared
    shared.stop()


@pytest.fixture
def own_broker(tmp_path_factory):
    """A broker for a test that stops and restarts it."""
    mine = Broker(tmp_path_factory.mktemp("own-broker"))
    yield mine
    mine.stop()


_bases = itertools.count()


@pytest.fixture
def base_path():
    return f"t{os.getpid()}/{next(_bases)}"


@pytest.fixture
def watch(broker):
    watchers = []

    def start(topic_filter, on=None):
        watcher = Watcher(on or broker, topic_filter)
        watchers.append(watcher)
        return watcher

    yield start
    for watcher in watchers:
        watcher.close()


def subscribed(watch, base_path):
    """Waits until the gateway has subscribed to commands: it says online only after its SUBSCRIBE went out, and
    the broker takes a connection's packets in order. A command published before that is not delivered (MQTT)."""
    assert watch(f"{base_path}/bridge/state").wait(f"{base_path}/bridge/state", "online", timeout=20) == "online"


@pytest.fixture
def start_gateway(tmp_path, broker, base_path):
    started = []

    def start(env=None, data_dir=None, binary=HARNESS, on=None):
        directory = data_dir or tmp_path
        settings = {"MQTT_HOSTNAME": "127.0.0.1", "MQTT_PORT": str((on or broker).port),
                    "MQTT_BASEPATH": base_path, "MQTT_USESTATIONNAME": "true"}
        settings.update(env or {})
        gateway = Gateway(directory, settings, binary)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        if gateway.alive():
            gateway.stop()


@pytest.fixture
def gateway(start_gateway):
    return start_gateway()
