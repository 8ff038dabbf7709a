"""MQTT over TLS, with certificates made by openssl here: the broker's certificate checked against MQTT_TLS_CA,
and a client certificate for brokers that require one (docs/security.md)."""
import subprocess

import pytest

from conftest import GATEWAY, Broker, Gateway, Watcher, free_port
from pki import authorities, issue


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    authorities(d)
    issue(d, "server", "/CN=127.0.0.1", server=True)
    issue(d, "client", "/CN=ocpp-gateway")
    return d


@pytest.fixture(scope="module")
def tls_broker(certificates, tmp_path_factory):
    tls_port, mutual_port = free_port(), free_port()
    pki = certificates
    extra = (f"listener {tls_port} 127.0.0.1\ncafile {pki}/ca.pem\ncertfile {pki}/server.pem\nkeyfile {pki}/server.key\n"
             f"listener {mutual_port} 127.0.0.1\ncafile {pki}/ca.pem\ncertfile {pki}/server.pem\nkeyfile {pki}/server.key\n"
             "require_certificate true\n")
    broker = Broker(tmp_path_factory.mktemp("tls-broker"), extra)
    broker.tls_port, broker.mutual_port = tls_port, mutual_port
    yield broker
    broker.stop()


def start(tmp_path, broker, base_path, **settings):
    env = {"MQTT_HOSTNAME": "127.0.0.1", "MQTT_BASEPATH": base_path, **settings}
    return Gateway(tmp_path, env)


def test_the_brokers_certificate_is_checked_against_the_ca(tmp_path, tls_broker, certificates, base_path):
    watcher = Watcher(tls_broker, f"{base_path}/#")
    gateway = start(tmp_path, tls_broker, base_path, MQTT_PORT=str(tls_broker.tls_port), MQTT_TLS_CA=str(certificates / "ca.pem"))
    try:
        assert watcher.wait(f"{base_path}/bridge/state", "online", timeout=20) == "online"
        gateway.wait_for_log("mqtt.broker=tls://127.0.0.1:")
    finally:
        watcher.close()
        assert gateway.stop() == 0


def test_a_broker_signed_by_another_ca_is_refused(tmp_path, tls_broker, certificates, base_path):
    gateway = start(tmp_path, tls_broker, base_path, MQTT_PORT=str(tls_broker.tls_port),
                    MQTT_TLS_CA=str(certificates / "other-ca.pem"))
    try:
        line = gateway.wait_for_log("Cannot reach the MQTT broker", timeout=20)
        assert "MQTT_TLS_CA" in line
    finally:
        assert gateway.stop() == 0


def test_a_client_certificate_for_a_broker_that_requires_one(tmp_path, tls_broker, certificates, base_path):
    watcher = Watcher(tls_broker, f"{base_path}/#")
    gateway = start(tmp_path, tls_broker, base_path, MQTT_PORT=str(tls_broker.mutual_port),
                    MQTT_TLS_CA=str(certificates / "ca.pem"), MQTT_TLS_CERT=str(certificates / "client.pem"),
                    MQTT_TLS_KEY=str(certificates / "client.key"))
    try:
        assert watcher.wait(f"{base_path}/bridge/state", "online", timeout=20) == "online"
    finally:
        watcher.close()
        assert gateway.stop() == 0


def test_tls_settings_are_checked_at_start_up(tmp_path, certificates):
    def run(**settings):
        return subprocess.run([str(GATEWAY)], env={"ENV_FILE": "", "ADMIN_PORT": "0", **settings}, cwd=tmp_path,
                              capture_output=True, text=True, timeout=30)
    missing = run(MQTT_TLS_CA=str(tmp_path / "nope.pem"))
    assert missing.returncode == 2 and "MQTT_TLS_CA" in missing.stderr and "a readable PEM file" in missing.stderr
    half = run(MQTT_TLS_CA=str(certificates / "ca.pem"), MQTT_TLS_CERT=str(certificates / "client.pem"))
    assert half.returncode == 2 and "MQTT_TLS_CERT and MQTT_TLS_KEY together" in half.stderr
