/// One environment variable the gateway reads.
public struct Setting: Sendable, Hashable {
    public let name: String
    /// The value used when the variable is not set (empty: no default).
    public let defaultValue: String
    /// One line for docs and `.env.example`.
    public let help: String
}

/// Every environment variable the gateway reads, in one place. docs/configuration.md must list each of
/// them (a test checks it).
public enum Settings {
    public static let envFile = Setting(name: "ENV_FILE", defaultValue: ".env",
        help: "Env file to read (python-dotenv syntax); a missing .env is fine, a missing ENV_FILE is an error")
    public static let listenAddr = Setting(name: "LISTEN_ADDR", defaultValue: "0.0.0.0",
        help: "Address the charger WebSocket listener binds to")
    public static let listenPort = Setting(name: "LISTEN_PORT", defaultValue: "3000",
        help: "Port chargers connect to: ws://host:LISTEN_PORT/<station-id> (0 picks a free port)")
    public static let heartbeatInterval = Setting(name: "OCPP_HEARTBEAT_INTERVAL", defaultValue: "300",
        help: "Heartbeat interval in seconds sent in every BootNotification answer")
    public static let callTimeout = Setting(name: "OCPP_CALL_TIMEOUT", defaultValue: "30",
        help: "Seconds a command sent to a charger may wait for its answer")
    public static let pingInterval = Setting(name: "OCPP_PING_INTERVAL", defaultValue: "30",
        help: "Seconds between WebSocket pings to each charger; 0 turns pings off")
    public static let pingTimeout = Setting(name: "OCPP_PING_TIMEOUT", defaultValue: "20",
        help: "Seconds a charger has to answer a ping before its connection is closed as dead")
    public static let maxFrameSize = Setting(name: "OCPP_MAX_FRAME_SIZE", defaultValue: "1048576",
        help: "Largest WebSocket message accepted from a charger, in bytes; larger ones close it with 1009")
    public static let remoteStartWindow = Setting(name: "OCPP_REMOTE_START_AUTH_WINDOW", defaultValue: "300",
        help: "Seconds an id tag of an accepted remote start is accepted by Authorize/StartTransaction on that station")
    public static let authorizedTags = Setting(name: "AUTHORIZED_TAG_ID_LIST", defaultValue: "[]",
        help: #"RFID tags that are accepted, as a JSON list ('["tag1","tag2"]') or comma-separated"#)
    public static let dataDir = Setting(name: "DATA_DIR", defaultValue: "./data",
        help: "Directory for the gateway's state (transaction id counter, charging switches, open transactions)")
    public static let logLevel = Setting(name: "LOG_LEVEL", defaultValue: "INFO",
        help: "TRACE, DEBUG, INFO, WARNING, ERROR or CRITICAL (any case)")

    public static let all: [Setting] = [
        envFile, listenAddr, listenPort, heartbeatInterval, callTimeout, pingInterval, pingTimeout, maxFrameSize,
        remoteStartWindow, authorizedTags, dataDir, logLevel,
    ]
}
