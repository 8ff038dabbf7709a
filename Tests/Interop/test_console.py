"""The web console (docs/console.md) in a real browser: headless Chromium driven by Selenium against a running gateway
with two simulated chargers (the Python `ocpp` package), and the REST API beside it. One broker, one gateway and one
browser for the module; the screenshots go to test-artifacts/ (kept by the test run, not committed)."""
import asyncio
import contextlib
import http.client
import json
import os
import re
import shlex
import subprocess
import shutil
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from chargepoint import connected, now
from conftest import ROOT, broker_gateway
from ocpp.v16 import call
from upstream import Upstream

BASE = "console"
TOKEN = "console-test-token"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", ROOT / "test-artifacts"))


class Chargers:
    """Simulated chargers on an asyncio loop of their own, so the browser can be driven from the test's thread."""

    def __init__(self, gateway):
        self.gateway = gateway
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stack = None
        self.points = {}

    def run(self, coroutine, timeout=20):
        return asyncio.run_coroutine_threadsafe(asyncio.wait_for(coroutine, timeout), self.loop).result(timeout + 5)

    def connect(self, station, vendor="Acme", model="Wallbox"):
        async def start():
            if self.stack is None:
                self.stack = contextlib.AsyncExitStack()
            cp = await self.stack.enter_async_context(connected(self.gateway.url(station), station))
            await cp.call(call.BootNotification(charge_point_vendor=vendor, charge_point_model=model, firmware_version="1.2.3"))
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
            return cp

        self.points[station] = self.run(start())
        return self.points[station]

    def call(self, station, payload):
        return self.run(self.points[station].call(payload))

    def power(self, station, watts, amps=(10.0, 10.0, 10.0), transaction=None):
        values = [{"value": str(watts), "measurand": "Power.Active.Import", "unit": "W"}]
        values += [{"value": str(a), "measurand": "Current.Import", "unit": "A", "phase": f"L{i + 1}"} for i, a in enumerate(amps)]
        extra = {"transaction_id": transaction} if transaction is not None else {}
        self.call(station, call.MeterValues(connector_id=1, meter_value=[{"timestamp": now(), "sampledValue": values}], **extra))

    def close(self):
        if self.stack is not None:
            self.run(self.stack.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def received(cp, action, timeout=15, **fields):
    """Waits until the charger got `action` (with `fields`); returns its fields."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for got, values in list(cp.received):
            if got == action and all(values.get(k) == v for k, v in fields.items()):
                return values
        time.sleep(0.05)
    raise AssertionError(f"the charger did not receive {action} {fields}: {cp.received}")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, broker):
    directory = tmp_path_factory.mktemp("console")
    gateway = broker_gateway(directory, broker, BASE, {"ADMIN_TOKEN": TOKEN})
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def chargers(gateway):
    chargers = Chargers(gateway)
    chargers.connect("Garage", vendor="Acme", model="Wallbox")
    chargers.connect("Carport", vendor="Volta", model="Duo")
    yield chargers
    chargers.close()


@pytest.fixture(scope="module")
def browser():
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_binary = shutil.which("chromedriver")
    if not binary or not driver_binary:
        pytest.fail("Chromium and its driver are not installed (scripts/test.sh installs chromium and chromium-driver)")
    downloads = ARTIFACTS / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    for old in downloads.glob("*"):
        old.unlink()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(driver_binary), options=options)
    driver.set_page_load_timeout(20)
    driver.downloads = downloads
    yield driver
    driver.quit()


def admin(gateway, path, data=None, token=TOKEN, headers=None, method=None):
    """A request to the admin listener: (status, headers, body)."""
    request = urllib.request.Request(f"http://127.0.0.1:{gateway.admin_port}{path}", data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def logged_in(browser, gateway):
    """Logs in through the form, as a user would, and waits for the live stream."""
    browser.delete_all_cookies()
    browser.get(f"http://127.0.0.1:{gateway.admin_port}/")
    WebDriverWait(browser, 10).until(lambda b: b.current_url.endswith("/login"))
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.ID, "stream").text == "live")


def card(browser, station):
    return browser.find_element(By.CSS_SELECTOR, f'section.station[data-station="{station}"]')


def wait_text(browser, locate, expected, timeout=10):
    """Waits until the element's text contains `expected`; returns the text."""
    seen = []

    def check(b):
        try:
            text = locate(b).text
        except Exception as error:  # not there yet, or replaced while read
            seen.append(repr(error))
            return False
        seen.append(text)
        return expected in text and text

    try:
        return WebDriverWait(browser, timeout).until(check)
    except Exception:
        raise AssertionError(f"never showed {expected!r}; last seen {seen[-1:]}")


def screenshot(browser, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    assert browser.save_screenshot(str(path)), path
    return path


def test_the_console_shows_two_chargers_live_and_a_control_reaches_the_charger(gateway, chargers, browser):
    logged_in(browser, gateway)
    garage = wait_text(browser, lambda b: card(b, "Garage"), "Acme · Wallbox · firmware 1.2.3 · OCPP 1.6")
    assert "connected" in garage
    wait_text(browser, lambda b: card(b, "Carport"), "Volta · Duo")

    # A reading from each charger shows up without a reload, and moves the power chart.
    chargers.power("Garage", 7200, amps=(10.4, 10.5, 10.6))
    chargers.power("Carport", 3600, amps=(16.0, 0.0, 0.0))
    power = lambda station: (lambda b: card(b, station).find_element(By.CSS_SELECTOR, 'tr[data-connector="1"] td.power'))
    wait_text(browser, power("Garage"), "7.2 kW")
    wait_text(browser, power("Carport"), "3.6 kW")
    assert "10.4 / 10.5 / 10.6 A" in card(browser, "Garage").text
    chargers.power("Garage", 11000)
    wait_text(browser, power("Garage"), "11 kW")
    wait_text(browser, lambda b: card(b, "Garage").find_element(By.CSS_SELECTOR, "svg.chart text.now"), "11 kW")
    assert card(browser, "Garage").find_elements(By.CSS_SELECTOR, "svg.chart path.line")

    # A control: the charger receives the call, and the result is shown.
    card(browser, "Carport").find_element(By.CSS_SELECTOR, "button.reset-soft").click()
    received(chargers.points["Carport"], "Reset", type="Soft")
    wait_text(browser, lambda b: card(b, "Carport").find_element(By.CSS_SELECTOR, ".result"), "Soft reset: status: Accepted")
    assert not [got for got, _ in chargers.points["Garage"].received if got == "Reset"]  # the other charger got nothing

    card(browser, "Garage").find_element(By.CSS_SELECTOR, "input.amps").clear()
    card(browser, "Garage").find_element(By.CSS_SELECTOR, "input.amps").send_keys("13")
    card(browser, "Garage").find_element(By.CSS_SELECTOR, "button.limit").click()
    profile = received(chargers.points["Garage"], "SetChargingProfile")
    assert profile["cs_charging_profiles"]["charging_schedule"]["charging_schedule_period"][0]["limit"] == 13
    print("console screenshot:", screenshot(browser, "console.png"))


def test_a_session_started_at_the_charger_is_shown_with_its_tag_masked_stopped_from_the_console_and_counted_per_day(
        gateway, chargers, browser):
    logged_in(browser, gateway)
    start = chargers.call("Garage", call.StartTransaction(connector_id=1, id_tag="TAG-OK", meter_start=10_000, timestamp=now()))
    chargers.call("Garage", call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
    row = lambda b: card(b, "Garage").find_element(By.CSS_SELECTOR, 'tr[data-connector="1"]')
    shown = wait_text(browser, row, str(start.transaction_id))
    assert "••••OK" in shown and "Charging" in shown
    assert "TAG-OK" not in browser.page_source  # the tag never reaches the browser whole

    row(browser).find_element(By.CSS_SELECTOR, "button.start").click()  # "Stop" while a transaction is open
    received(chargers.points["Garage"], "RemoteStopTransaction", transaction_id=start.transaction_id)
    chargers.call("Garage", call.StopTransaction(transaction_id=start.transaction_id, meter_stop=22_500, timestamp=now(), reason="Remote"))

    # The finished session lands in the per-day chart (12.5 kWh for Garage today).
    bar = WebDriverWait(browser, 15).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, '#energy rect[data-station="Garage"]'))[0]
    assert "12.5 kWh" in bar.find_element(By.TAG_NAME, "title").get_attribute("textContent")
    assert "Garage" in browser.find_element(By.ID, "energy-legend").text

    # The CSV link downloads the history.
    browser.find_element(By.CSS_SELECTOR, 'a[href="api/transactions.csv"]').click()
    deadline = time.monotonic() + 15
    target = browser.downloads / "transactions.csv"
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    rows = target.read_text().splitlines()
    assert rows[0].startswith("transaction_id,station,connector_id,id_tag")
    assert any(line.startswith(f"{start.transaction_id},Garage,1,TAG-OK,") and ",12500," in line for line in rows[1:])


def test_the_console_fits_a_phone(gateway, chargers, browser):
    logged_in(browser, gateway)
    browser.set_window_size(390, 844)
    try:
        wait_text(browser, lambda b: card(b, "Carport"), "Volta")
        # No sideways scrolling of the page: the cards stack, and the connector table scrolls inside its card.
        width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width
        left = [card(browser, s).rect["x"] for s in ("Carport", "Garage")]
        assert left[0] == left[1]  # one column
        print("phone screenshot:", screenshot(browser, "console-phone.png"))
    finally:
        browser.set_window_size(1280, 1000)


def test_the_token_is_enforced(gateway, chargers, browser):
    # Without the token: 401 for the API, the login form for the page; the probes stay open.
    assert admin(gateway, "/api/status", token=None)[0] == 401
    assert admin(gateway, "/api/events", token=None)[0] == 401
    assert admin(gateway, "/api/stations/Garage/controls/reset", b"Soft", token=None)[0] == 401
    assert admin(gateway, "/api/status", token="wrong")[0] == 401
    status, headers, _ = admin(gateway, "/", token=None)
    assert status == 303 and headers["Location"] == "login"
    assert admin(gateway, "/healthz", token=None)[0] == 200
    assert admin(gateway, "/metrics", token=None)[0] == 200

    # A wrong token at the form: the form again, 401, no cookie.
    status, headers, body = admin(gateway, "/login", b"token=nope", token=None, method="POST")
    assert status == 401 and "not the admin token" in body and headers["Set-Cookie"] is None

    # The right one: a session cookie, HttpOnly and SameSite=Strict, that lets the browser in.
    status, headers, _ = admin(gateway, "/login", f"token={TOKEN}".encode(), token=None, method="POST")
    cookie = headers["Set-Cookie"]
    assert status == 303 and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    session = {"Cookie": cookie.split(";")[0]}
    assert admin(gateway, "/api/status", token=None, headers=session)[0] == 200
    # A POST with the cookie alone (a form on another site could send that) is refused; the console adds its header.
    assert admin(gateway, "/api/stations/Carport/controls/trigger", b"Heartbeat", token=None, headers=session)[0] == 403
    status, _, body = admin(gateway, "/api/stations/Carport/controls/trigger", b"Heartbeat", token=None,
                            headers={**session, "X-OCPP-Gateway": "console"})
    assert status == 200, body
    # Logged out (the console's plain form, without the header): the cookie no longer works.
    status, headers, _ = admin(gateway, "/logout", b"", token=None, headers=session, method="POST")
    assert status == 303 and headers["Location"] == "login" and "Max-Age=0" in headers["Set-Cookie"]
    assert admin(gateway, "/api/status", token=None, headers=session)[0] == 401

    # And in the browser: the Log out button ends the session, and the page then asks for the token again.
    logged_in(browser, gateway)
    browser.find_element(By.CSS_SELECTOR, "form.logout button").click()
    WebDriverWait(browser, 10).until(lambda b: b.current_url.endswith("/login"))
    browser.get(f"http://127.0.0.1:{gateway.admin_port}/")
    WebDriverWait(browser, 10).until(lambda b: b.current_url.endswith("/login"))


def test_rest_commands_take_the_mqtt_path_and_answer_with_the_result_document(gateway, chargers, watch):
    results = watch(f"{BASE}/Garage/cmd_result")
    status, _, body = admin(gateway, "/api/stations/Garage/commands",
                            json.dumps({"action": "get_configuration", "args": {"key": ["HeartbeatInterval"]},
                                        "request_id": "r-1"}).encode())
    document = json.loads(body)
    assert status == 200 and document["status"] == "ok" and document["request_id"] == "r-1"
    assert document["response"]["configurationKey"][0]["key"] == "HeartbeatInterval"
    received(chargers.points["Garage"], "GetConfiguration", key=["HeartbeatInterval"])
    # The same result is published on MQTT, as for a command from MQTT.
    assert results.wait_json(f"{BASE}/Garage/cmd_result", request_id="r-1")["status"] == "ok"

    # Errors: bad JSON, bad arguments, an unknown action or station, a charger's CallError, the override outside relay.
    assert admin(gateway, "/api/stations/Garage/commands", b"{nope")[0] == 400
    status, _, body = admin(gateway, "/api/stations/Garage/commands", b'{"action": "reset", "args": {"type": "Sideways"}}')
    assert status == 400 and json.loads(body)["error"]["code"] == "InvalidArguments"
    assert admin(gateway, "/api/stations/Garage/commands", b'{"action": "fly"}')[0] == 404
    assert admin(gateway, "/api/stations/Nowhere/commands", b'{"action": "reset"}')[0] == 404
    status, _, body = admin(gateway, "/api/stations/Garage/commands", b'{"action": "unlock_connector", "args": {"connector_id": 99}}')
    assert status == 502 and json.loads(body)["error"]["code"] == "NotSupported"
    status, _, body = admin(gateway, "/api/stations/Garage/override", b"ON")
    assert status == 409 and "relay mode" in body
    assert admin(gateway, "/api/stations/Garage/controls/max_current", b"999")[0] == 400
    assert admin(gateway, "/api/stations/Garage/commands", b"x" * 70_000)[0] == 413
    status, headers, _ = admin(gateway, "/api/status", method="DELETE")
    assert status == 405 and headers["Allow"] == "GET, HEAD"

    # HEAD on the event stream, many times over, holds no watcher (at most 32 may watch at once).
    for _ in range(40):
        assert admin(gateway, "/api/events", method="HEAD")[0] == 200
    status, headers, _ = admin(gateway, "/api/events", method="HEAD")
    assert headers["Content-Type"] == "text/event-stream"

    status, _, body = admin(gateway, "/api/status")
    about = json.loads(body)
    assert status == 200 and about["mode"] == "standalone" and about["mqtt"]["connected"] is True
    assert about["stations"] == {"connected": 2, "known": 2} and about["backends"] == []


def test_the_event_stream_starts_with_every_station_then_sends_changes(gateway, chargers):
    request = urllib.request.Request(f"http://127.0.0.1:{gateway.admin_port}/api/events",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=15) as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"

        def next_event():
            data = None
            for raw in stream:
                line = raw.decode().rstrip("\n")
                if line.startswith("data: "):
                    data = json.loads(line[6:])
                elif line == "" and data is not None:
                    return data

        first = next_event()
        assert first["reset"] is True and {"Garage", "Carport"} <= set(first["stations"])
        assert first["stations"]["Carport"]["state/charge_point_vendor"] == "Volta"
        chargers.power("Carport", 1234)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            event = next_event()
            assert "reset" not in event
            if event["stations"].get("Carport", {}).get("state/power_active_import") == "1234":
                assert "Garage" not in event["stations"] or "state/charge_point_vendor" not in event["stations"]["Garage"]
                break
        else:
            raise AssertionError("the change never came")


@pytest.fixture(scope="module")
def relay(tmp_path_factory, broker):
    upstream = Upstream()
    directory = tmp_path_factory.mktemp("console-relay")
    gateway = broker_gateway(directory, broker, BASE + "-relay", {"ADMIN_TOKEN": TOKEN, "RELAY_URL": upstream.url("/ocpp")})
    chargers = Chargers(gateway)
    yield gateway, upstream, chargers
    chargers.close()
    gateway.stop()
    upstream.stop()


def test_relay_mode_shows_the_upstream_and_the_override_works_from_the_console(relay, browser, watch):
    gateway, upstream, chargers = relay
    chargers.connect("Shared")
    upstream.wait(lambda e: e[0] == "Shared" and e[1] == "BootNotification")
    logged_in(browser, gateway)
    # Before 0.7 the station's first message could publish the "connecting" it had been announced with after the
    # upstream's "connected", and MQTT (so the console) showed "connecting" for good about one run in three.
    wait_text(browser, lambda b: card(b, "Shared").find_element(By.CSS_SELECTOR, ".relay"), "connected")
    override = watch(f"{BASE}-relay/Shared/relay/override")
    card(browser, "Shared").find_element(By.CSS_SELECTOR, "button.override").click()
    assert override.wait(f"{BASE}-relay/Shared/relay/override", "ON") == "ON"
    wait_text(browser, lambda b: card(b, "Shared").find_element(By.CSS_SELECTOR, "button.override"), "release")

    status, _, body = admin(gateway, "/api/status")
    about = json.loads(body)
    assert about["mode"] == "relay"
    (backend,) = [b for b in about["backends"] if b["station"] == "Shared"]
    assert backend["state"] == "connected" and backend.get("queue", 0) == 0 and backend["override"] == "ON"
    assert admin(gateway, "/api/stations/Shared/override", b"")[0] == 400  # not OFF, as a cleared MQTT switch is
    assert admin(gateway, "/api/stations/Shared/override", b"sideways")[0] == 400
    assert admin(gateway, "/api/stations/Shared/override", b'{"override": false}')[0] == 200
    assert override.wait(f"{BASE}-relay/Shared/relay/override", "OFF") == "OFF"
    print("relay console screenshot:", screenshot(browser, "console-relay.png"))


def test_an_open_console_does_not_hold_up_a_stop(start_gateway):
    """The event stream ends when the gateway stops, and the connections a browser keeps open between requests (and
    the ones it opens ahead of time) are closed: a browser left open must not delay a restart. Before, an idle
    kept-alive connection held the stop for the admin listener's idle timeout."""
    # What did not end would hold the stop until SHUTDOWN_TIMEOUT cancels it; stop() allows 15 s.
    gateway = start_gateway({"ADMIN_TOKEN": TOKEN, "SHUTDOWN_TIMEOUT": "60"})
    kept = http.client.HTTPConnection("127.0.0.1", gateway.admin_port, timeout=15)
    kept.request("GET", "/healthz")
    assert kept.getresponse().read() == b"ok\n"  # and the connection stays open, idle
    ahead = socket.create_connection(("127.0.0.1", gateway.admin_port), timeout=15)  # opened, nothing sent yet
    request = urllib.request.Request(f"http://127.0.0.1:{gateway.admin_port}/api/events",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=15) as stream:
        assert stream.readline().startswith(b"retry:")
        assert gateway.stop() == 0
        assert stream.read() is not None  # the stream ended (read returns at its end instead of waiting)
    assert ahead.recv(1) == b""  # closed by the gateway
    ahead.close()
    kept.close()


def test_the_curl_examples_in_console_md_do_what_it_says(gateway, chargers):
    """docs/console.md's examples, run as written (its station `garage`, its port 8080 made the test's)."""
    chargers.connect("garage")
    text = (ROOT / "docs" / "console.md").read_text().replace("\\\n", " ")
    examples = re.findall(r"^curl .*$", text, re.M)
    assert len(examples) == 3
    outputs = []
    for example in examples:
        command = example.replace("$ADMIN_TOKEN", TOKEN).replace("localhost:8080", f"127.0.0.1:{gateway.admin_port}")
        arguments = shlex.split(command)
        if "-sN" in arguments:  # the event stream: read it for a moment
            arguments[1:1] = ["--max-time", "3"]
        result = subprocess.run(arguments, capture_output=True, text=True, timeout=30)
        outputs.append(result.stdout)
    configuration = json.loads(outputs[0])
    assert configuration["status"] == "ok" and configuration["action"] == "get_configuration"
    limit = json.loads(outputs[1])
    assert limit["status"] == "ok" and limit["action"] == "set_charging_profile"
    received(chargers.points["garage"], "SetChargingProfile")
    assert outputs[2].startswith("retry: 2000") and "event: state" in outputs[2] and '"garage"' in outputs[2]


class PrefixProxy:
    """A reverse proxy on loopback that serves the admin listener below a prefix, as Home Assistant's Ingress does
    (`/api/hassio_ingress/<token>/...` to `/...`), streaming the answers (the event stream passes as it comes)."""

    def __init__(self, target_port, prefix="/api/hassio_ingress/abc123"):
        import http.client
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        self.prefix = prefix
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def forward(self):
                if not self.path.startswith(outer.prefix + "/"):
                    self.send_error(404)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                upstream = http.client.HTTPConnection("127.0.0.1", target_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                upstream.request(self.command, self.path[len(outer.prefix):], body=body, headers=headers)
                answer = upstream.getresponse()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(name, value)
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    while chunk := answer.read1(65536):
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass
                upstream.close()
                self.close_connection = True

            do_GET = do_POST = do_HEAD = forward

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}{prefix}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def test_the_console_works_below_an_ingress_prefix_from_a_trusted_address_without_a_login(tmp_path, broker, browser):
    """The Home Assistant add-on's way in: Ingress serves the console below a prefix and, as a trusted proxy
    (ADMIN_TRUSTED_ADDRESSES; here loopback stands in for 172.30.32.2), needs no token even though one is set."""
    gateway = broker_gateway(tmp_path, broker, BASE + "-ingress", {"ADMIN_TOKEN": TOKEN, "ADMIN_TRUSTED_ADDRESSES": "127.0.0.1"})
    proxy = PrefixProxy(gateway.admin_port)
    chargers = Chargers(gateway)
    try:
        chargers.connect("Sidebar", vendor="Acme", model="Ingress")
        browser.delete_all_cookies()
        browser.get(proxy.url)
        WebDriverWait(browser, 10).until(lambda b: b.find_element(By.ID, "stream").text == "live")
        assert browser.current_url == proxy.url  # no detour through the login form
        wait_text(browser, lambda b: card(b, "Sidebar"), "Acme · Ingress")
        chargers.power("Sidebar", 4200)
        wait_text(browser, lambda b: card(b, "Sidebar").find_element(By.CSS_SELECTOR, 'tr[data-connector="1"] td.power'), "4.2 kW")
        card(browser, "Sidebar").find_element(By.CSS_SELECTOR, "button.unlock").click()
        received(chargers.points["Sidebar"], "UnlockConnector", connector_id=1)
        assert not browser.find_elements(By.CSS_SELECTOR, "form.logout")  # nothing to log out of
        # That other peers still need the token is AdminAccessTests' (every peer here is loopback).
    finally:
        chargers.close()
        proxy.stop()
        gateway.stop()


def test_markup_from_a_charger_is_shown_as_text_never_run(gateway, chargers, browser):
    """A station id and boot fields are the charger's to choose: the console shows them as text, and no script runs."""
    station = "<img src=x onerror=window.pwned=1>"
    vendor = "<svg onload=pwned=2>"  # 20 characters, what a 1.6 vendor may have
    chargers.connect(urllib.parse.quote(station, safe=""), vendor=vendor, model="<b>bold</b>")
    logged_in(browser, gateway)
    shown = wait_text(browser, lambda b: b.find_element(By.ID, "stations"), vendor)
    assert station in shown and "<b>bold</b>" in shown
    assert browser.execute_script("return typeof window.pwned === 'undefined'")
    assert not browser.find_elements(By.CSS_SELECTOR, "#stations section img, #stations section b, #stations section > svg:not(.chart)")
