// ocpp-loadgen: simulated chargers against a gateway on this machine, and an MQTT subscriber that matches what the
// gateway publishes to what the chargers sent. See docs/performance.md.
import Foundation
import LoadGenerator

let usage = """
    usage: ocpp-loadgen [options]
      --mode meter|idle|command   what the chargers do (default meter). meter: boot, status, authorize, start a
                                  transaction, status Charging, one warm-up MeterValues (not measured), then MeterValues
      --chargers N                simulated chargers (default 10, at most 30000)
      --rate R                    MeterValues per second per charger; 0 = back to back (default 1)
      --duration S                seconds of metering, or of holding idle connections (default 10)
      --commands N                commands in command mode (default 200)
      --gateway HOST:PORT         the gateway's OCPP listener (default 127.0.0.1:3000; loopback only)
      --mqtt HOST:PORT            the broker (default 127.0.0.1:1883; loopback only)
      --base PATH                 MQTT_BASEPATH of the gateway (default ocpp/test, the gateway's default; MQTT_USESTATIONNAME must be true)
      --prefix P                  station ids are P0, P1, ... (default lg)
      --tag TAG                   the RFID tag the chargers use (must be in AUTHORIZED_TAG_ID_LIST; default LOADGEN)
      --connect-rate N            new connections per second (default 2000)
      --threads N                 event loop threads (default 1)
      --gateway-pid PID           read the gateway's CPU time and RSS from /proc
      --broker-pid PID            read the broker's CPU time from /proc
      --drain S                   seconds to wait for the last answers and publishes (default 20)
      --settle S                  seconds between the last charger ready and metering (default 0)
      --steady                    current and voltage hold still in every reading (only power and energy move)
      --ocpp 1.6|2.0.1            the chargers' OCPP version (default 1.6); 2.0.1 sends readings in TransactionEvent
      --json FILE                 also write the results as one JSON object
      --serve-upstream HOST:PORT  instead of a run: be the upstream central system of a relaying gateway (the bench's
                                  relay step), answering every message at once, until killed (at most an hour)
    Exit status: 0 when every charger ran cleanly, 1 when something was lost or failed, 2 for bad options.
    """

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("ocpp-loadgen: \(message)\n\(usage)\n".utf8))
    exit(2)
}

func hostAndPort(_ text: String, _ option: String) -> (String, Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
        fail("\(option) wants HOST:PORT, got \(text)")
    }
    return (String(text[..<colon]), port)
}

var options = LoadOptions()
var jsonPath: String?
var upstream: (String, Int)?
var arguments = CommandLine.arguments.dropFirst()
while let option = arguments.popFirst() {
    if option == "--help" || option == "-h" {
        print(usage)
        exit(0)
    }
    if option == "--steady" {
        options.steady = true
        continue
    }
    guard let value = arguments.popFirst() else { fail("\(option) needs a value") }
    func number<T: LosslessStringConvertible>(_: T.Type) -> T {
        guard let number = T(value) else { fail("\(option) wants a number, got \(value)") }
        return number
    }
    switch option {
    case "--mode":
        guard let mode = LoadOptions.Mode(rawValue: value) else { fail("--mode is meter, idle or command") }
        options.mode = mode
    case "--ocpp":
        guard value == "1.6" || value == "2.0.1" else { fail("--ocpp is 1.6 or 2.0.1") }
        options.v201 = value == "2.0.1"
    case "--chargers": options.chargers = number(Int.self)
    case "--rate": options.rate = number(Double.self)
    case "--duration": options.duration = number(Double.self)
    case "--commands": options.commands = number(Int.self)
    case "--gateway": (options.host, options.port) = hostAndPort(value, option)
    case "--mqtt": (options.mqttHost, options.mqttPort) = hostAndPort(value, option)
    case "--base": options.basePath = value
    case "--prefix": options.stationPrefix = value
    case "--tag": options.idTag = value
    case "--connect-rate": options.connectRate = number(Int.self)
    case "--threads": options.threads = number(Int.self)
    case "--gateway-pid": options.gatewayPID = number(Int32.self)
    case "--broker-pid": options.brokerPID = number(Int32.self)
    case "--drain": options.drainTimeout = number(Double.self)
    case "--settle": options.settle = number(Double.self)
    case "--json": jsonPath = value
    case "--serve-upstream": upstream = hostAndPort(value, option)
    default: fail("unknown option \(option)")
    }
}
if let (host, port) = upstream {
    DispatchQueue.global().asyncAfter(deadline: .now() + 3600) { exit(0) }
    do {
        try await BenchUpstream.serve(host: host, port: port)
    } catch {
        FileHandle.standardError.write(Data("ocpp-loadgen: \(error)\n".utf8))
        exit(1)
    }
    exit(0)
}
if let problem = options.problem() { fail(problem) }

// Every run is bounded: a watchdog ends the process if the run overstays its own limits by far.
let limit = Double(options.chargers) / Double(options.connectRate) + options.duration + options.drainTimeout + options.settle
    + Double(options.mode == .command ? options.commands * 5 : 0) + 180
DispatchQueue.global().asyncAfter(deadline: .now() + limit) {
    FileHandle.standardError.write(Data("ocpp-loadgen: gave up after \(Int(limit)) s\n".utf8))
    exit(1)
}

do {
    let report = try await LoadRun.execute(options) { line in
        FileHandle.standardError.write(Data("ocpp-loadgen: \(line)\n".utf8))
    }
    print(report.text)
    if let jsonPath {
        try Data((report.json + "\n").utf8).write(to: URL(fileURLWithPath: jsonPath))
    }
    exit(report.clean ? 0 : 1)
} catch {
    FileHandle.standardError.write(Data("ocpp-loadgen: \(error)\n".utf8))
    exit(1)
}
