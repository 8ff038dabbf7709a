"""Starts the real gateway (the interop harness build: the gateway plus a JSON-lines console) for each test.

Everything listens on 127.0.0.1 with a port the gateway picks itself (LISTEN_PORT=0), read from its log line,
so tests never race for ports. Every wait is bounded by a deadline.
"""
import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESS = Path(os.environ.get("OCPP_TEST_HARNESS", ROOT / ".build" / "debug" / "ocpp-test-harness"))
GATEWAY = Path(os.environ.get("OCPP_GATEWAY_BIN", ROOT / ".build" / "debug" / "ocpp-gateway"))
LISTENING = re.compile(r"ocpp\.listen_address=[0-9.]+:(\d+).*Listening for chargers")


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
        }
        environment.update(env or {})
        self.process = subprocess.Popen(
            [str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=environment, cwd=str(data_dir), text=True, bufsize=1)
        self.lines = queue.Queue()
        self.log = []
        self.port = None
        self._ids = 0
        self._pending = []
        port_found = threading.Event()

        def read_stderr():
            for line in self.process.stderr:
                self.log.append(line)
                match = LISTENING.search(line)
                if match and self.port is None:
                    self.port = int(match.group(1))
                    port_found.set()

        def read_stdout():
            for line in self.process.stdout:
                self.lines.put(json.loads(line))

        threading.Thread(target=read_stderr, daemon=True).start()
        threading.Thread(target=read_stdout, daemon=True).start()
        if not port_found.wait(30):
            self.stop()
            raise RuntimeError("gateway did not start listening:\n" + "".join(self.log))

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

    def alive(self):
        return self.process.poll() is None


@pytest.fixture
def start_gateway(tmp_path):
    started = []

    def start(env=None, data_dir=None, binary=HARNESS):
        directory = data_dir or tmp_path
        gateway = Gateway(directory, env, binary)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        if gateway.alive():
            gateway.stop()


@pytest.fixture
def gateway(start_gateway):
    return start_gateway()
