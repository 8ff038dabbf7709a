"""OCPP security profiles 2 and 3: wss:// with the gateway's certificate, passwords over TLS, client
certificates whose common name is the station id, and certificate reload on SIGHUP. Certificates are made here
with openssl (docs/security.md)."""
import asyncio
import json
import shutil
import signal
import socket
import ssl
import subprocess

import pytest
import websockets

from chargepoint import hello, run
from pki import authorities, issue

PASSWORD = "0123456789abcdef0123"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("charger-pki")
    authorities(d)
    issue(d, "server", "/CN=127.0.0.1", server=True)
    issue(d, "renewed", "/CN=127.0.0.1", server=True)
    issue(d, "cp1", "/CN=CP1")
    issue(d, "cp2", "/CN=CP2")
    issue(d, "stranger", "/CN=CP1", ca="other-ca")
    return d


def client_context(pki, certificate=None):
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    if certificate:
        context.load_cert_chain(str(pki / f"{certificate}.pem"), str(pki / f"{certificate}.key"))
    return context


async def heartbeat(url, context, subprotocols=("ocpp1.6",)):
    """The status of the handshake (101 or the refusal), and the answer to a Heartbeat when upgraded."""
    try:
        async with websockets.connect(url, ssl=context, subprotocols=list(subprotocols)) as charger:
            await charger.send('[2,"1","Heartbeat",{}]')
            return 101, json.loads(await asyncio.wait_for(charger.recv(), 5))[0]
    except websockets.InvalidStatus as refused:
        return refused.response.status_code, None


def test_profile_2_tls_with_passwords(start_gateway, pki):
    gateway = start_gateway(env={"OCPP_TLS_CERT": str(pki / "server.pem"), "OCPP_TLS_KEY": str(pki / "server.key"),
                                 "OCPP_STATION_PASSWORDS": json.dumps({"CP1": PASSWORD})})
    base = f"127.0.0.1:{gateway.port}"
    assert run(heartbeat(f"wss://CP1:{PASSWORD}@{base}/ocpp/CP1", client_context(pki))) == (101, 3)
    assert run(heartbeat(f"wss://CP1:wrong@{base}/ocpp/CP1", client_context(pki)))[0] == 401
    # Plain WebSocket on the TLS port does not get through.
    with pytest.raises(Exception):
        run(heartbeat(f"ws://CP1:{PASSWORD}@{base}/ocpp/CP1", None))
    gateway.wait_for_log("ocpp.tls=on")


def test_a_tls_charger_the_gateway_closes_gets_the_close_frame(start_gateway, pki):
    # The gateway's close over TLS: the close frame, then TLS's close_notify with the half-close, then the end.
    gateway = start_gateway(env={"OCPP_TLS_CERT": str(pki / "server.pem"), "OCPP_TLS_KEY": str(pki / "server.key")})

    async def session():
        async with websockets.connect(f"wss://127.0.0.1:{gateway.port}/ocpp/CP1", ssl=client_context(pki),
                                      subprotocols=["ocpp1.6"]) as charger:
            await hello(charger)
            await charger.send(b'[2,"1","Heartbeat",{}]')
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(charger.recv(), 5)
            return closed.value.rcvd.code if closed.value.rcvd else None

    assert run(session()) == 1003
    assert gateway.event("disconnected", "CP1")["reason"] == "unsupported_data"


def test_profile_3_client_certificates_must_name_the_station(start_gateway, pki):
    gateway = start_gateway(env={"OCPP_TLS_CERT": str(pki / "server.pem"), "OCPP_TLS_KEY": str(pki / "server.key"),
                                 "OCPP_TLS_CLIENT_CA": str(pki / "ca.pem")})
    base = f"wss://127.0.0.1:{gateway.port}"
    assert run(heartbeat(f"{base}/CP1", client_context(pki, "cp1"))) == (101, 3)
    assert run(heartbeat(f"{base}/CP1", client_context(pki, "cp2")))[0] == 403      # another station's certificate
    for refused in (client_context(pki), client_context(pki, "stranger")):        # none, or signed by another CA
        with pytest.raises((ssl.SSLError, websockets.InvalidHandshake, ConnectionError, OSError, asyncio.TimeoutError)):
            run(heartbeat(f"{base}/CP1", refused))
    assert "certificate_mismatch" in gateway.wait_for_log("ocpp.refusal_code=certificate_mismatch")


def served_certificate(port, pki):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with client_context(pki).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.getpeercert(binary_form=True)


def der(pki, name):
    return subprocess.run(["openssl", "x509", "-in", str(pki / f"{name}.pem"), "-outform", "der"],
                          check=True, capture_output=True, timeout=30).stdout


def test_a_renewed_certificate_is_used_after_sighup(start_gateway, pki, tmp_path):
    certificate, key = tmp_path / "tls.pem", tmp_path / "tls.key"
    shutil.copy(pki / "server.pem", certificate)
    shutil.copy(pki / "server.key", key)
    gateway = start_gateway(env={"OCPP_TLS_CERT": str(certificate), "OCPP_TLS_KEY": str(key)})
    assert served_certificate(gateway.port, pki) == der(pki, "server")
    shutil.copy(pki / "renewed.pem", certificate)
    shutil.copy(pki / "renewed.key", key)
    gateway.process.send_signal(signal.SIGHUP)
    gateway.wait_for_log("Reloaded the TLS certificate")
    assert served_certificate(gateway.port, pki) == der(pki, "renewed")
    assert gateway.alive()


def test_tls_settings_are_checked_at_start_up(tmp_path, pki):
    from conftest import GATEWAY

    def start(**settings):
        return subprocess.run([str(GATEWAY)], env={"ENV_FILE": "", "ADMIN_PORT": "0", **settings}, cwd=tmp_path,
                              capture_output=True, text=True, timeout=30)
    mismatched = start(OCPP_TLS_CERT=str(pki / "server.pem"), OCPP_TLS_KEY=str(pki / "cp1.key"))
    assert mismatched.returncode == 2 and "OCPP_TLS_CERT" in mismatched.stderr
    half = start(OCPP_TLS_CERT=str(pki / "server.pem"))
    assert half.returncode == 2 and "OCPP_TLS_CERT and OCPP_TLS_KEY together" in half.stderr
