#!/usr/bin/env python3
"""What one retained QoS 1 publish costs the broker, with MQTT 3.1.1, MQTT 5, and MQTT 5 with topic aliases.

Issue 25 asks whether MQTT 5's topic aliases would pay for themselves: the gateway's readings go to the same topics
again and again, and an alias lets a publish carry two bytes instead of its topic. This starts a fresh mosquitto on a
loopback port for each run, publishes the gateway's pattern (STATIONS stations x 9 state topics, one round a second,
spread evenly) from a client that writes pre-encoded packets (so the client's own cost stays off the broker's cores as
far as possible), and reads the broker's CPU time from /proc. Modes run alternately, ROUNDS times each.

    ./scripts/broker-publish-cost.py [--stations 5000] [--seconds 10] [--rounds 3] [--subscriber]

Not part of the test suite; the result is in docs/performance.md ("MQTT 5 topic aliases").
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

PARAMETERS = ["energy_active_import_register", "power_active_import", "current_import_l1", "current_import_l2",
              "current_import_l3", "voltage_l1", "voltage_l2", "voltage_l3", "session_energy"]


def varint(n):
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def string(text):
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def packet(first_byte, body):
    return bytes([first_byte]) + varint(len(body)) + body


def connect(version, client_id):
    header = string("MQTT") + bytes([version, 0x02]) + (60).to_bytes(2, "big")
    if version == 5:
        header += b"\x00"  # no properties
    return packet(0x10, header + string(client_id))


def publish(version, topic, packet_id, payload, alias=None):
    body = string(topic) + packet_id.to_bytes(2, "big")
    if version == 5:
        properties = b"" if alias is None else b"\x23" + alias.to_bytes(2, "big")
        body += varint(len(properties)) + properties
    return packet(0x33, body + payload)  # PUBLISH, QoS 1, retained


def read_packet(sock):
    first = sock.recv(1)
    if not first:
        raise ConnectionError("the broker closed the connection")
    length, shift = 0, 0
    for _ in range(4):  # MQTT's remaining length has at most four bytes
        data = sock.recv(1)
        if not data:
            raise ConnectionError("the broker closed the connection mid-packet")
        byte = data[0]
        length += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            raise ConnectionError("the broker closed the connection mid-packet")
        body += chunk
    return first[0], body


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(mode, stations, seconds, subscriber):
    version = 4 if mode == "mqtt3.1.1" else 5
    aliases = mode == "mqtt5-aliases"
    port = free_port()
    work = tempfile.mkdtemp()
    conf = os.path.join(work, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 1000000\n")
        f.write("max_inflight_messages 0\n")  # no receive maximum: the same window for MQTT 5 as for 3.1.1
        f.write("max_topic_alias 65535\n")  # mosquitto's default is 10: too few for any fleet
        if os.getuid() == 0:
            f.write("user root\n")
    broker = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(10)  # a broker that stops answering ends the run instead of hanging it
        sock.sendall(connect(version, "cost-probe"))
        kind, body = read_packet(sock)
        assert kind == 0x20 and body[1] == 0, f"CONNACK refused: {body!r}"
        probe = None
        if subscriber:  # as the load generator's probe: one subscription to every station's energy topic
            probe = socket.create_connection(("127.0.0.1", port), timeout=10)
            probe.sendall(connect(4, "cost-probe-sub"))
            read_packet(probe)
            probe.sendall(packet(0x82, (1).to_bytes(2, "big") + string("bench/+/state/energy_active_import_register") + b"\x01"))
            read_packet(probe)
            threading.Thread(target=drain, args=(probe, None), daemon=True).start()
        topics = [f"bench/CP{station:05d}/state/{p}" for station in range(stations) for p in PARAMETERS]
        payloads = [str(1_000_000 + i % 9973).encode() for i in range(len(topics))]
        first_round = [publish(version, t, i % 65535 + 1, payloads[i], alias=(i + 1 if aliases else None))
                       for i, t in enumerate(topics)]
        later_rounds = [publish(version, "", i % 65535 + 1, payloads[i], alias=i + 1) for i in range(len(topics))] \
            if aliases else first_round
        acks = [0]
        threading.Thread(target=drain, args=(sock, acks), daemon=True).start()
        slices = 100
        per_slice = (len(topics) + slices - 1) // slices

        def send_round(packets):
            start = time.monotonic()
            for n in range(slices):
                chunk = b"".join(packets[n * per_slice:(n + 1) * per_slice])
                if chunk:
                    sock.sendall(chunk)
                pause = start + (n + 1) / slices - time.monotonic()
                if pause > 0:
                    time.sleep(pause)  # pacing the load, not synchronising: one round a second

        send_round(first_round)  # the broker learns the topics (and the aliases)
        send_round(later_rounds)
        before = cpu_seconds(broker.pid)
        for _ in range(seconds):
            send_round(later_rounds)
        sent = seconds * len(topics)
        deadline = time.monotonic() + 30
        while acks[0] < sent + 2 * len(topics) and time.monotonic() < deadline:
            time.sleep(0.05)
        used = cpu_seconds(broker.pid) - before
        return used / sent * 1e6, acks[0] - 2 * len(topics) >= sent
    finally:
        broker.terminate()
        broker.wait(timeout=10)


def drain(sock, acks):
    try:
        while True:
            kind, body = read_packet(sock)
            if acks is not None and kind >> 4 == 4:
                acks[0] += 1
    except (OSError, ConnectionError, IndexError):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=5000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--subscriber", action="store_true", help="one subscriber to every energy topic")
    args = parser.parse_args()
    results = {}
    for _ in range(args.rounds):
        for mode in ("mqtt3.1.1", "mqtt5", "mqtt5-aliases"):
            cost, complete = run(mode, args.stations, args.seconds, args.subscriber)
            results.setdefault(mode, []).append(cost)
            print(f"{mode:14} {cost:6.2f} µs of broker CPU per publish{'' if complete else ' (not all acknowledged)'}",
                  flush=True)
    for mode, costs in results.items():
        print(f"{mode:14} mean {sum(costs) / len(costs):6.2f} µs ({', '.join(f'{c:.2f}' for c in costs)})")


if __name__ == "__main__":
    sys.exit(main())
