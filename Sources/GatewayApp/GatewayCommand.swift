/// What the command line asks of `ocpp-gateway`. The gateway itself is configured by environment variables (and an
/// env file), not by flags: the command line only chooses what to do.
public enum GatewayCommand: Equatable, Sendable {
    /// Run the gateway (no arguments).
    case run
    /// `healthcheck`: probe a running gateway's admin API (for container health checks).
    case healthcheck
    /// `check-config`: read the configuration as a start would, say what is wrong or that it is good, and exit.
    case checkConfig
    /// `--help`, `-h`, `help`.
    case help
    /// `--version`, `-V`, `version`.
    case version
    /// Anything else: why it is refused.
    case invalid(String)

    /// Reads the arguments after the program's name.
    public static func parse(_ arguments: [String]) -> GatewayCommand {
        guard let first = arguments.first else { return .run }
        let command: GatewayCommand
        switch first {
        case "healthcheck": command = .healthcheck
        case "check-config": command = .checkConfig
        case "--help", "-h", "help": command = .help
        case "--version", "-V", "version": command = .version
        default:
            return .invalid(first.hasPrefix("-") ? "unknown option '\(first)'" : "unknown command '\(first)'")
        }
        guard arguments.count == 1 else { return .invalid("'\(first)' takes no arguments (got '\(arguments[1])')") }
        return command
    }

    /// What `--help` prints.
    public static let usage = """
        ocpp-gateway \(gatewayVersion): an OCPP 1.6J central system for EV chargers that mirrors every charger's state \
        to MQTT and turns MQTT commands into OCPP calls.

        Usage:
          ocpp-gateway               run the gateway (stop it with Ctrl-C or SIGTERM)
          ocpp-gateway healthcheck   exit 0 if the gateway on this host answers /healthz (ADMIN_PORT)
          ocpp-gateway check-config  read the configuration as a start would, and say whether it is good
          ocpp-gateway --version     print the version
          ocpp-gateway --help        print this

        It is configured by environment variables, or an env file (.env, or ENV_FILE). The first ones to set:
          LISTEN_PORT      port chargers connect to, as ws://host:LISTEN_PORT/<station-id> (default 3000)
          MQTT_HOSTNAME    the MQTT broker (default localhost); MQTT_PORT (default 1883)
          MQTT_BASEPATH    the root of every topic (default ocpp/test)
          AUTHORIZED_TAG_ID_LIST   the RFID tags allowed to charge, e.g. ["TAG1","TAG2"]

        Every setting: docs/configuration.md (and .env.example). The MQTT topics: docs/mqtt-api.md.
        """
}
