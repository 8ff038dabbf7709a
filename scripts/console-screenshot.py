#!/usr/bin/env python3
"""Makes the console's picture in docs/ (docs/images/console.png): a gateway with a broker of its own, two simulated
chargers (the Python `ocpp` package) with two weeks of sessions behind them and one charging now, and headless
Chromium looking at the console after a couple of minutes of readings.

    .venv/bin/python scripts/console-screenshot.py [output.png] [seconds of readings, default 150]

Needs what ./scripts/test.sh installs (the debug build, the venv, mosquitto, chromium and chromium-driver)."""
import math
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "Interop"))

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from conftest import Broker, broker_gateway  # noqa: E402
from ocpp.v16 import call  # noqa: E402
import test_console  # noqa: E402


def stamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def history(chargers, station, days):
    """One session a day or so, each ended on its day, with the charger's own timestamps."""
    now = datetime.now(timezone.utc)
    meter = 1_200_000
    for day in range(days, 0, -1):
        if random.random() < 0.25:
            continue
        start = (now - timedelta(days=day)).replace(hour=18, minute=5)
        energy = random.randint(4_000, 22_000)
        started = chargers.call(station, call.StartTransaction(connector_id=1, id_tag="TAG-OK", meter_start=meter, timestamp=stamp(start)))
        meter += energy
        chargers.call(station, call.StopTransaction(transaction_id=started.transaction_id, meter_stop=meter,
                                                    timestamp=stamp(start + timedelta(hours=3)), reason="EVDisconnected"))
    return meter


def main():
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images" / "console.png"
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 150
    random.seed(7)
    with tempfile.TemporaryDirectory() as directory:
        broker = Broker(Path(directory))
        gateway = broker_gateway(Path(directory), broker, "ocpp", {"ADMIN_TOKEN": test_console.TOKEN})
        chargers = test_console.Chargers(gateway)
        try:
            chargers.connect("garage", vendor="Wallbe", model="Pro 22")
            chargers.connect("driveway", vendor="Alfen", model="Eve Single")
            meter = history(chargers, "garage", 13)
            history(chargers, "driveway", 13)
            session = chargers.call("garage", call.StartTransaction(connector_id=1, id_tag="04A1B2C3", meter_start=meter,
                                                                    timestamp=test_console.now()))
            chargers.call("garage", call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
            chargers.call("driveway", call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))
            browser = next(test_console.browser.__wrapped__())
            try:
                test_console.logged_in(browser, gateway)
                for second in range(seconds):
                    amps = 15.5 + 0.6 * math.sin(second / 9) + (0 if second < seconds * 0.6 else -5)
                    meter += int(amps * 3 * 230 / 3600)
                    chargers.call("garage", call.MeterValues(connector_id=1, transaction_id=session.transaction_id, meter_value=[{
                        "timestamp": test_console.now(), "sampledValue": [
                            {"value": str(meter), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                            {"value": f"{amps * 3 * 230:.0f}", "measurand": "Power.Active.Import", "unit": "W"},
                            *[{"value": f"{amps + d:.1f}", "measurand": "Current.Import", "unit": "A", "phase": p}
                              for p, d in (("L1", 0), ("L2", 0.2), ("L3", -0.3))]]}]))
                    time.sleep(1)
                WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#energy rect"))
                browser.set_window_size(1280, 920)
                time.sleep(1.5)
                output.parent.mkdir(parents=True, exist_ok=True)
                browser.save_screenshot(str(output))
                print(output)
            finally:
                browser.quit()
        finally:
            chargers.close()
            gateway.stop()
            broker.stop()


if __name__ == "__main__":
    main()
