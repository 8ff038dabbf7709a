"""The Home Assistant add-on (home-assistant-addon/): its config.yaml and build.yaml checked against the add-on
configuration rules the Supervisor applies when it reads a repository (a file it rejects makes the add-on vanish from
the store without an error anyone sees), and its run script run for real: options in, the gateway's environment out,
with a fake Supervisor on loopback for the MQTT service.

The rules follow the Supervisor's add-on validation (supervisor/addons/validate.py and options.py, read 2026-12):
required keys, the slug, version, arch names, ports, the watchdog and services formats, the map entries, the options
schema's element types, and build.yaml's image references."""
import json
import os
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

ADDON = ROOT / "home-assistant-addon"
ARCHES = {"aarch64", "amd64", "armhf", "armv7", "i386"}
STARTUP = {"initialize", "system", "services", "application", "once"}
BOOT = {"auto", "manual", "manual_only"}
# An options schema element: a type, a type with bounds, match(...) or list(...), optionally ending in "?".
ELEMENT = re.compile(
    r"^(?:bool|email|url|port|device(?:\(subsystem=[a-z]+\))?"
    r"|(?:str|password)(?:\(\d*,\d*\))?"
    r"|int(?:\(-?\d*,-?\d*\))?"
    r"|float(?:\(-?\d*\.?\d*,-?\d*\.?\d*\))?"
    r"|match\(.*\)|list\(.+\))\??$")
SLUG = re.compile(r"^[-_.A-Za-z0-9]+$")
VERSION = re.compile(r"^[\w.\-+]+$")
SERVICE = re.compile(r"^(?:mqtt|mysql):(?:provide|want|need)$")
WATCHDOG = re.compile(r"^(?:https?|\[PROTO:\w+\]|tcp)://\[HOST\]:(?:\[PORT:\d+\]|\d+).*$")
PORT_KEY = re.compile(r"^\d{1,5}/(?:tcp|udp)$")
MAP = re.compile(r"^(?:data|config|ssl|addons|backup|share|media|homeassistant_config|all_addon_configs|addon_config)(?::(?:rw|ro))?$")
IMAGE = re.compile(r"^(?:[a-zA-Z\-.:\d{}]+/)*?[\-\w{}]+/[\-\w{}]+(?::[.\-\w{}]+)?$")


@pytest.fixture(scope="module")
def config():
    return yaml.safe_load((ADDON / "config.yaml").read_text())


@pytest.fixture(scope="module")
def build():
    return yaml.safe_load((ADDON / "build.yaml").read_text())


def schema_elements(schema, where="schema"):
    """Every element of an options schema with where it is; fails on a shape the Supervisor does not take."""
    if isinstance(schema, str):
        yield where, schema
    elif isinstance(schema, dict):
        for key, value in schema.items():
            assert isinstance(key, str), where
            yield from schema_elements(value, f"{where}.{key}")
    elif isinstance(schema, list):
        assert len(schema) == 1, f"{where}: a list holds one element type"
        assert not isinstance(schema[0], list), f"{where}: a list may not hold a list"
        yield from schema_elements(schema[0], f"{where}[]")
    else:
        raise AssertionError(f"{where}: {schema!r} is not a schema element")


def test_config_has_what_the_supervisor_requires(config):
    for key in ("name", "version", "slug", "description", "arch"):
        assert config.get(key), f"config.yaml needs {key}"
    assert isinstance(config["version"], str) and VERSION.match(config["version"])
    assert SLUG.match(config["slug"])
    assert config["arch"] and set(config["arch"]) <= ARCHES
    assert config.get("startup", "application") in STARTUP and config.get("boot", "auto") in BOOT
    assert 10 <= config.get("timeout", 10) <= 300
    for service in config.get("services", []):
        assert SERVICE.match(service), service
    assert "mqtt:want" in config["services"] or "mqtt:need" in config["services"]
    for entry in config.get("map", []):
        assert MAP.match(entry), entry
    for port, host in config["ports"].items():
        assert PORT_KEY.match(port) and (host is None or 1 <= int(host) <= 65535), (port, host)
    assert set(config["ports_description"]) <= set(config["ports"])
    assert WATCHDOG.match(config["watchdog"])


def test_ingress_serves_the_console_and_the_watchdog_asks_the_health_endpoint(config):
    assert config["ingress"] is True and config["ingress_port"] == 8099
    assert "[PORT:8099]/healthz" in config["watchdog"]
    assert f"{config['ingress_port']}/tcp" in config["ports"]  # mappable from outside, off by default
    assert config["ports"]["3000/tcp"] == 3000  # the chargers' port


def test_the_options_schema_uses_only_the_supervisors_types_and_every_option_has_a_place_in_it(config):
    schema, options = config["schema"], config["options"]
    for where, element in schema_elements(schema):
        assert ELEMENT.match(element), f"{where}: {element!r}"
    assert set(options) <= set(schema), set(options) - set(schema)
    # A required option (no "?") needs a default, or the form cannot be saved before the user fills it.
    required = {key for key, value in schema.items() if not (isinstance(value, str) and value.endswith("?"))}
    assert required <= set(options), required - set(options)
    assert config["version"] == subprocess.run(
        ["grep", "-o", 'gatewayVersion = "[^"]*"', str(ROOT / "Sources/GatewayApp/Settings.swift")],
        capture_output=True, text=True).stdout.split('"')[1]


def test_every_option_is_translated(config):
    translations = yaml.safe_load((ADDON / "translations" / "en.yaml").read_text())
    assert set(translations["configuration"]) == set(config["schema"])
    for key, text in translations["configuration"].items():
        assert text["name"] and text["description"], key
    assert set(translations["network"]) == set(config["ports"])


def test_build_names_an_image_for_every_arch(config, build):
    assert set(build["build_from"]) == set(config["arch"])
    for image in build["build_from"].values():
        assert IMAGE.match(image) and image.endswith(":" + config["version"]), image
    dockerfile = (ADDON / "Dockerfile").read_text()
    assert "ARG BUILD_FROM" in dockerfile and "FROM ${BUILD_FROM}" in dockerfile and "/run.sh" in dockerfile


def test_the_repository_and_the_store_files_are_there():
    repository = yaml.safe_load((ROOT / "repository.yaml").read_text())
    assert repository["name"] and repository["url"].startswith("https://")
    for name in ("DOCS.md", "CHANGELOG.md", "README.md", "run.sh"):
        assert (ADDON / name).stat().st_size > 0, name
    assert (ADDON / "icon.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (ADDON / "logo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert os.access(ADDON / "run.sh", os.X_OK)
    # The Supervisor reads every config.json/yaml below the repository as an add-on: there must be only ours.
    stray = [p for p in ROOT.rglob("config.*") if p.suffix in (".json", ".yaml", ".yml")
             and not any(part.startswith(".") for part in p.relative_to(ROOT).parts) and p != ADDON / "config.yaml"
             and "test-artifacts" not in p.parts]
    assert stray == []


class FakeSupervisor:
    """The Supervisor's /services/mqtt on loopback, answering as it does for the Mosquitto broker add-on."""

    def __init__(self, token="supervisor-token", service=None):
        outer = self
        self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append((self.path, self.headers.get("Authorization")))
                if self.path != "/services/mqtt" or self.headers.get("Authorization") != f"Bearer {token}":
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps({"result": "ok", "data": service or {
                    "host": "core-mosquitto", "port": 1883, "ssl": False, "protocol": "3.1.1",
                    "username": "addons", "password": "from-the-broker"}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def run_addon(tmp_path, options, supervisor=None, token="supervisor-token"):
    """Runs run.sh with `options`; the gateway's place is taken by a script that prints its environment."""
    (tmp_path / "options.json").write_text(json.dumps(options))
    printer = tmp_path / "print-env"
    printer.write_text("#!/usr/bin/env python3\nimport json, os\nprint(json.dumps(dict(os.environ)))\n")
    printer.chmod(0o755)
    environment = {"PATH": os.environ["PATH"], "ADDON_OPTIONS": str(tmp_path / "options.json"), "GATEWAY_BIN": str(printer),
                   "SUPERVISOR_API": supervisor.url if supervisor else "http://127.0.0.1:9", "DATA_DIR": str(tmp_path)}
    if token:
        environment["SUPERVISOR_TOKEN"] = token
    result = subprocess.run([str(ADDON / "run.sh")], env=environment, capture_output=True, text=True, timeout=30)
    return result, (json.loads(result.stdout) if result.returncode == 0 else None)


FULL = {
    "authorized_tags": ["garage-card", "Card 2"], "base_path": "home/ocpp", "use_station_names": False,
    "expected_stations": ["garage"], "heartbeat_interval": 120, "home_assistant_discovery": False,
    "relay_url": "wss://csms.example.com/ocpp", "secondary_urls": ["ws://energy.local/ocpp", "ws://other.local/ocpp"],
    "station_passwords": [{"station": "garage", "password": "0123456789abcdef"}, {"station": "street", "password": "p:w"}],
    "allowed_stations": ["garage", "street"], "tls_certificate": "fullchain.pem", "tls_key": "/ssl/privkey.pem",
    "admin_token": "console-secret", "mqtt_host": "broker.lan", "mqtt_port": 8883, "mqtt_username": "gw",
    "mqtt_password": "mqtt-secret", "log_level": "debug", "env_vars": ["OCPP_MAX_CURRENT=16", "PROVIDER_PRICES=a=1,b=2"],
}

EXPECTED = {
    "AUTHORIZED_TAG_ID_LIST": '["garage-card","Card 2"]', "MQTT_BASEPATH": "home/ocpp", "MQTT_USESTATIONNAME": "false",
    "EXPECTED_CHARGE_POINTS": '["garage"]', "OCPP_HEARTBEAT_INTERVAL": "120", "HA_DISCOVERY": "false",
    "RELAY_URL": "wss://csms.example.com/ocpp", "RELAY_SECONDARY_URLS": "ws://energy.local/ocpp,ws://other.local/ocpp",
    "OCPP_STATION_PASSWORDS": '{"garage":"0123456789abcdef","street":"p:w"}', "OCPP_ALLOWED_STATIONS": "garage,street",
    "OCPP_TLS_CERT": "/ssl/fullchain.pem", "OCPP_TLS_KEY": "/ssl/privkey.pem", "ADMIN_TOKEN": "console-secret",
    "MQTT_HOSTNAME": "broker.lan", "MQTT_PORT": "8883", "MQTT_USERNAME": "gw", "MQTT_PASSWORD": "mqtt-secret",
    "LOG_LEVEL": "debug", "OCPP_MAX_CURRENT": "16", "PROVIDER_PRICES": "a=1,b=2",
}


def test_the_run_script_maps_every_option_to_the_gateways_environment(tmp_path, config):
    assert set(FULL) == set(config["schema"])  # this test sets every option there is
    result, environment = run_addon(tmp_path, FULL)
    assert result.returncode == 0, result.stderr
    for name, value in EXPECTED.items():
        assert environment.get(name) == value, (name, environment.get(name))
    # Fixed by the add-on: where it listens and keeps its data, and that Ingress needs no token.
    assert environment["LISTEN_PORT"] == "3000" and environment["ADMIN_PORT"] == "8099" and environment["ADMIN_ADDR"] == "0.0.0.0"
    assert environment["ADMIN_TRUSTED_ADDRESSES"] == "172.30.32.2"
    assert "MQTT broker from the options: broker.lan:8883" in result.stderr


def test_without_a_broker_in_the_options_the_mosquitto_add_on_is_used(tmp_path, config):
    supervisor = FakeSupervisor()
    try:
        result, environment = run_addon(tmp_path, config["options"], supervisor)
    finally:
        supervisor.stop()
    assert result.returncode == 0, result.stderr
    assert supervisor.requests == [("/services/mqtt", "Bearer supervisor-token")]
    assert (environment["MQTT_HOSTNAME"], environment["MQTT_PORT"]) == ("core-mosquitto", "1883")
    assert (environment["MQTT_USERNAME"], environment["MQTT_PASSWORD"]) == ("addons", "from-the-broker")
    assert "MQTT_TLS_CA" not in environment
    # The defaults: the gateway's own, with station names on and no relay.
    assert environment["MQTT_BASEPATH"] == "ocpp" and environment["MQTT_USESTATIONNAME"] == "true"
    assert environment["AUTHORIZED_TAG_ID_LIST"] == "[]" and environment["HA_DISCOVERY"] == "true"
    for unset in ("RELAY_URL", "RELAY_SECONDARY_URLS", "OCPP_STATION_PASSWORDS", "ADMIN_TOKEN", "OCPP_TLS_CERT"):
        assert unset not in environment, unset


def test_a_broker_with_tls_gets_the_systems_certificate_authorities(tmp_path, config):
    supervisor = FakeSupervisor(service={"host": "core-mosquitto", "port": 8883, "ssl": True, "username": "u", "password": "p"})
    try:
        result, environment = run_addon(tmp_path, config["options"], supervisor)
    finally:
        supervisor.stop()
    assert result.returncode == 0, result.stderr
    assert environment["MQTT_PORT"] == "8883" and environment["MQTT_TLS_CA"] == "/etc/ssl/certs/ca-certificates.crt"


def test_no_broker_at_all_stops_the_add_on_with_a_message(tmp_path, config):
    result, _ = run_addon(tmp_path, config["options"], token=None)
    assert result.returncode == 1 and "install and start the Mosquitto broker add-on" in result.stderr


@pytest.mark.parametrize("change, message", [
    ({"tls_certificate": "fullchain.pem"}, "tls_certificate and tls_key go together"),
    ({"env_vars": ["not a setting"]}, "env_vars takes NAME=value"),
])
def test_bad_options_stop_the_add_on_with_a_message(tmp_path, config, change, message):
    result, _ = run_addon(tmp_path, {**config["options"], "mqtt_host": "broker.lan", **change})
    assert result.returncode == 1 and message in result.stderr


def test_the_gateway_takes_the_add_ons_environment(tmp_path, config):
    """The environment the run script makes is one the gateway starts with (`ocpp-gateway check-config`)."""
    result, environment = run_addon(tmp_path, {**FULL, "tls_certificate": "", "tls_key": "", "relay_url": "",
                                                "secondary_urls": []})
    assert result.returncode == 0, result.stderr
    gateway = ROOT / ".build" / "debug" / "ocpp-gateway"
    check = subprocess.run([str(gateway), "check-config"], env={**environment, "DATA_DIR": str(tmp_path)},
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
