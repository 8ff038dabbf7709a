"""Smoke test of the load generator (docs/performance.md): a few simulated chargers for a few seconds against the
real gateway and a real broker. The benchmark ladder itself (scripts/bench.sh) is not part of the suite."""
import json
import os
import subprocess
from pathlib import Path

from conftest import ROOT

LOADGEN = Path(os.environ.get("OCPP_LOADGEN_BIN", ROOT / ".build" / "debug" / "ocpp-loadgen"))


def run_loadgen(gateway, broker, base_path, tmp_path, *args):
    report_path = tmp_path / "report.json"
    result = subprocess.run(
        [str(LOADGEN), "--gateway", f"127.0.0.1:{gateway.port}", "--mqtt", f"127.0.0.1:{broker.port}",
         "--base", base_path, "--gateway-pid", str(gateway.process.pid), "--json", str(report_path),
         "--drain", "10", *args],
        capture_output=True, text=True, timeout=120)
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return result, report


def event_loop_threads(gateway):
    """The gateway process's NIO event loop threads (NIO names them NIO-ELT-<group>-#<n>), counted by name: on Linux a
    new thread starts with its creator's name, so a worker thread the runtime spawns from an event loop is called
    NIO-ELT-… too until it names itself (the CI machine once caught one in that instant)."""
    names = {path.read_text().strip() for path in Path(f"/proc/{gateway.process.pid}/task").glob("*/comm")}
    return sum(name.startswith("NIO-ELT-") for name in names)


def test_every_meter_values_is_answered_and_seen_on_mqtt(start_gateway, broker, base_path, tmp_path):
    # One loop: chargers, broker connection and admin API on the same thread.
    gateway = start_gateway(env={"AUTHORIZED_TAG_ID_LIST": '["LOADGEN"]', "EVENT_LOOP_THREADS": "1"})
    gateway.wait_for_log("gateway.event_loop_threads=1")
    # The setting sizes the only event loop group there is: one NIO loop thread, not one per core beside it.
    assert event_loop_threads(gateway) == 1
    result, report = run_loadgen(gateway, broker, base_path, tmp_path,
                                 "--chargers", "3", "--rate", "2", "--duration", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["clean"] and report["ready"] == 3
    # 2 per second for 3 seconds each, give or take the tick that straddles the end.
    assert report["meter_values_sent"] >= 3 * 5
    assert report["meter_values_answered"] == report["meter_values_sent"]
    assert report["matched"] == report["meter_values_sent"] and report["lost"] == 0
    assert report["meter_values_to_mqtt"]["count"] == report["matched"]
    assert 0 < report["meter_values_to_mqtt"]["p50_us"] <= report["meter_values_to_mqtt"]["max_us"]
    assert report["gateway_cpu_s"] is not None and report["gateway_rss_after_kib"] > 0
    # Boot, status, authorize, start, status and the warm-up MeterValues (not measured) before; stop and status
    # after: 8 other CALLs per charger.
    assert report["other_rtt"]["count"] == 3 * 8
    gateway.wait_for_log("Transaction stopped")


def test_commands_reach_the_chargers_and_their_results_come_back(start_gateway, broker, base_path, tmp_path):
    gateway = start_gateway(env={"EVENT_LOOP_THREADS": None})  # the default, auto
    result, report = run_loadgen(gateway, broker, base_path, tmp_path,
                                 "--mode", "command", "--chargers", "2", "--commands", "20")
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["commands_failed"] == 0
    assert report["command_round_trip"]["count"] == 20
    assert report["command_to_charger"]["count"] == 20
    assert report["command_to_charger"]["p50_us"] <= report["command_round_trip"]["p50_us"]


def test_a_refused_connection_is_reported_not_hidden(start_gateway, broker, base_path, tmp_path):
    gateway = start_gateway(env={"OCPP_ALLOWED_STATIONS": "lg0"})
    result, report = run_loadgen(gateway, broker, base_path, tmp_path,
                                 "--mode", "idle", "--chargers", "2", "--duration", "1")
    assert result.returncode == 1
    assert report["ready"] == 1 and report["connect_failures"] == 1 and not report["clean"]
    assert any("404" in failure for failure in report["failures"])


def test_only_loopback_targets_are_accepted():
    result = subprocess.run([str(LOADGEN), "--gateway", "192.0.2.1:3000"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "not a loopback address" in result.stderr


def test_chargers_speaking_2_0_1_send_their_readings_in_transaction_events(start_gateway, broker, base_path, tmp_path):
    gateway = start_gateway(env={"AUTHORIZED_TAG_ID_LIST": '["LOADGEN"]'})
    result, report = run_loadgen(gateway, broker, base_path, tmp_path,
                                 "--ocpp", "2.0.1", "--chargers", "3", "--rate", "2", "--duration", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["clean"] and report["ready"] == 3
    assert report["meter_values_sent"] >= 3 * 5
    assert report["meter_values_answered"] == report["meter_values_sent"]
    assert report["matched"] == report["meter_values_sent"] and report["lost"] == 0
    # Boot, status, authorize, Started, Updated (Charging) and the warm-up before; Ended and status after.
    assert report["other_rtt"]["count"] == 3 * 8
    gateway.wait_for_log("ocpp.event_type=Ended")


def test_relayed_chargers_of_both_versions_are_answered_by_the_bench_upstream(start_gateway, broker, base_path, tmp_path):
    """The relay steps of the ladder: the load generator's bench upstream (--serve-upstream) answers what the gateway
    passes on in the charger's version (a 2.0.1 Authorize's answer has other fields than 1.6's), so the run is clean."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    upstream = subprocess.Popen([str(LOADGEN), "--serve-upstream", f"127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert "listening" in upstream.stderr.readline()
        gateway = start_gateway(env={"AUTHORIZED_TAG_ID_LIST": '["LOADGEN"]', "RELAY_URL": f"ws://127.0.0.1:{port}/ocpp",
                                     "RELAY_AUTH": "none"})
        for version in ("1.6", "2.0.1"):
            result, report = run_loadgen(gateway, broker, base_path, tmp_path,
                                         "--ocpp", version, "--prefix", f"v{version}-", "--chargers", "2", "--rate", "2",
                                         "--duration", "2")
            assert result.returncode == 0, result.stdout + result.stderr
            assert report["clean"] and report["call_errors"] == 0 and report["lost"] == 0, report["failures"]
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)
