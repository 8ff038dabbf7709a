/// The gateway's version, in logs, `<base>/bridge/info` and Home Assistant's origin block.
public let gatewayVersion = "0.9.0"

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

    public static let mqttHostname = Setting(name: "MQTT_HOSTNAME", defaultValue: "localhost",
        help: "MQTT broker host name or address; with MQTT_TRANSPORT=unix, the broker's socket path")
    public static let mqttPort = Setting(name: "MQTT_PORT", defaultValue: "1883", help: "MQTT broker port")
    public static let mqttTransport = Setting(name: "MQTT_TRANSPORT", defaultValue: "tcp",
        help: "tcp, websockets (MQTT over WebSocket; wss with the MQTT_TLS_* settings) or unix")
    public static let mqttUsername = Setting(name: "MQTT_USERNAME", defaultValue: "", help: "MQTT user name (none by default)")
    public static let mqttPassword = Setting(name: "MQTT_PASSWORD", defaultValue: "", help: "MQTT password (never logged)")
    public static let mqttClientID = Setting(name: "MQTT_CLIENT_ID", defaultValue: "",
        help: "MQTT client id; by default ocppgw- and 16 random hex digits, made once and kept in DATA_DIR/mqtt-client-id")
    public static let mqttKeepalive = Setting(name: "MQTT_KEEPALIVE", defaultValue: "60", help: "MQTT keep-alive in seconds")
    public static let mqttReconnectBaseDelay = Setting(name: "MQTT_RECONNECT_BASE_DELAY", defaultValue: "5",
        help: "Seconds before the first reconnect to the broker; doubles per failed attempt")
    public static let mqttReconnectMaxDelay = Setting(name: "MQTT_RECONNECT_MAX_DELAY", defaultValue: "60",
        help: "Longest wait between reconnects to the broker, in seconds")
    public static let mqttTimeout = Setting(name: "MQTT_TIMEOUT", defaultValue: "30",
        help: "Seconds to connect to the broker (TCP, TLS and its CONNACK) before trying again")
    public static let mqttWebsocketPath = Setting(name: "MQTT_WEBSOCKET_PATH", defaultValue: "",
        help: "Path of the broker's WebSocket endpoint with MQTT_TRANSPORT=websockets; /mqtt when empty")
    public static let mqttWebsocketHeaders = Setting(name: "MQTT_WEBSOCKET_HEADERS", defaultValue: "",
        help: "Headers of the WebSocket upgrade request, as a JSON object of strings")
    public static let mqttBasePath = Setting(name: "MQTT_BASEPATH", defaultValue: "ocpp/test", help: "Root of every topic")
    public static let mqttUseStationName = Setting(name: "MQTT_USESTATIONNAME", defaultValue: "false",
        help: "Put each station under MQTT_BASEPATH/<station>; off, every station shares MQTT_BASEPATH (ocpp2mqtt's layout)")
    public static let mqttConnectorOneTopics = Setting(name: "MQTT_CONNECTOR_1_TOPICS", defaultValue: "auto",
        help: "Connector 1's state is on the flat <S>/state/ topics; also under <S>/connector/1/state/: auto for stations with several connectors, true always, false never")
    public static let mqttSkipUnchanged = Setting(name: "MQTT_SKIP_UNCHANGED", defaultValue: "false",
        help: "Do not publish a meter reading's value (voltage, current, ...) again when it equals the last one published; the last value still goes out after every reconnect")
    public static let mqttQoS = Setting(name: "MQTT_QOS", defaultValue: "1", help: "QoS of everything published: 0, 1 or 2")
    public static let expectedChargePoints = Setting(name: "EXPECTED_CHARGE_POINTS", defaultValue: "[]",
        help: "Stations published as DISCONNECTED at start, as a JSON list or comma-separated")
    public static let commandRetryAttempts = Setting(name: "OCPP_COMMAND_RETRY_ATTEMPTS", defaultValue: "5",
        help: "How many more times a command for a station that is not connected is tried")
    public static let commandRetryBaseDelay = Setting(name: "OCPP_COMMAND_RETRY_BASE_DELAY", defaultValue: "0.3",
        help: "Seconds before the first retry of a command; doubles per retry")

    public static let commandQueueMax = Setting(name: "OCPP_COMMAND_QUEUE_MAX", defaultValue: "100",
        help: "Most commands waiting for one station; more get a QueueFull result at once")
    public static let haDiscovery = Setting(name: "HA_DISCOVERY", defaultValue: "true",
        help: "Publish Home Assistant MQTT discovery configs for every station")
    public static let haDiscoveryPrefix = Setting(name: "HA_DISCOVERY_PREFIX", defaultValue: "homeassistant",
        help: "Home Assistant's discovery prefix")
    public static let haStatusTopic = Setting(name: "HA_STATUS_TOPIC", defaultValue: "homeassistant/status",
        help: "Where Home Assistant announces online; the gateway then publishes discovery again")
    public static let maxCurrent = Setting(name: "OCPP_MAX_CURRENT", defaultValue: "32",
        help: "Upper bound of the max_current control, in amperes")
    public static let currentStep = Setting(name: "OCPP_CURRENT_STEP", defaultValue: "1",
        help: "Step of the max_current control, in amperes")
    public static let remoteIDTag = Setting(name: "OCPP_REMOTE_ID_TAG", defaultValue: "ocpp-gateway",
        help: "Id tag sent by the remote_start control")

    public static let adminAddr = Setting(name: "ADMIN_ADDR", defaultValue: "0.0.0.0",
        help: "Address of the admin HTTP listener (/healthz, /readyz, /metrics, /api/stations)")
    public static let adminPort = Setting(name: "ADMIN_PORT", defaultValue: "8080",
        help: "Port of the admin HTTP listener; 0 picks a free port")
    public static let adminToken = Setting(name: "ADMIN_TOKEN", defaultValue: "",
        help: "Bearer token the admin API asks for, except on /healthz, /readyz and /metrics")
    public static let adminTokenFile = Setting(name: "ADMIN_TOKEN_FILE", defaultValue: "",
        help: "File holding ADMIN_TOKEN (a Kubernetes or Docker secret)")
    public static let adminTrustedAddresses = Setting(name: "ADMIN_TRUSTED_ADDRESSES", defaultValue: "",
        help: "Peer IP addresses let into the console and API without the token (Home Assistant's Ingress proxy, 172.30.32.2)")
    public static let readyRequiresMQTT = Setting(name: "READY_REQUIRES_MQTT", defaultValue: "false",
        help: "Make /readyz fail while the MQTT broker is not connected")
    public static let logFormat = Setting(name: "LOG_FORMAT", defaultValue: "text",
        help: "text or json (one object per line); an ocpp2mqtt Python format string means text")
    public static let logDateFormat = Setting(name: "LOG_DATE_FORMAT", defaultValue: "",
        help: "Accepted for ocpp2mqtt env files and ignored (times are ISO 8601 UTC)")
    public static let logFile = Setting(name: "LOG_FILE", defaultValue: "",
        help: "Also write logs to this file, rotated by size")
    public static let logMaxSize = Setting(name: "LOG_MAX_SIZE", defaultValue: "10485760",
        help: "Size in bytes at which LOG_FILE is rotated")
    public static let logBackupCount = Setting(name: "LOG_BACKUP_COUNT", defaultValue: "5",
        help: "How many rotated log files are kept")
    public static let shutdownTimeout = Setting(name: "SHUTDOWN_TIMEOUT", defaultValue: "20",
        help: "Seconds a graceful shutdown may take before the remaining work is cancelled")
    public static let eventLoopThreads = Setting(name: "EVENT_LOOP_THREADS", defaultValue: "auto",
        help: "Threads serving chargers, the MQTT connection and the admin API: a number from 1 to 64, or auto for half the CPU cores (at least 1)")

    public static let stationPasswords = Setting(name: "OCPP_STATION_PASSWORDS", defaultValue: "",
        help: #"Security profile 1: each station's password, as JSON ({"CP1": "secret"}) or CP1:secret,CP2:other"#)
    public static let stationPasswordsFile = Setting(name: "OCPP_STATION_PASSWORDS_FILE", defaultValue: "",
        help: "A file with the station passwords (JSON, or one station:password per line), e.g. a mounted secret")
    public static let allowedStations = Setting(name: "OCPP_ALLOWED_STATIONS", defaultValue: "",
        help: "Only these stations may connect (JSON list or comma-separated); others get 404. Empty: any")
    public static let maxStations = Setting(name: "OCPP_MAX_STATIONS", defaultValue: "25000",
        help: "Most stations connected at once; more are refused with 503")
    public static let handshakeTimeout = Setting(name: "OCPP_HANDSHAKE_TIMEOUT", defaultValue: "10",
        help: "Seconds a new connection may take to complete its WebSocket handshake before it is closed")
    public static let ocppVersions = Setting(name: "OCPP_VERSIONS", defaultValue: "ocpp1.6,ocpp2.0.1",
        help: "OCPP versions chargers may speak, preferred first: a charger offering several gets the first it offers")
    public static let maxConnectors = Setting(name: "OCPP_MAX_CONNECTORS", defaultValue: "8",
        help: "Highest connector id a station may use; messages naming a higher one get a CallError and create no state")
    public static let maxKnownStations = Setting(name: "OCPP_MAX_KNOWN_STATIONS", defaultValue: "25000",
        help: "Most stations remembered (from their first message on); a new station beyond it is refused")

    public static let mqttTLSCA = Setting(name: "MQTT_TLS_CA", defaultValue: "",
        help: "PEM file of the authorities that sign the broker's certificate; setting it turns TLS on")
    public static let mqttTLSCert = Setting(name: "MQTT_TLS_CERT", defaultValue: "",
        help: "Client certificate (PEM) for brokers that require one")
    public static let mqttTLSKey = Setting(name: "MQTT_TLS_KEY", defaultValue: "",
        help: "Key (PEM) of MQTT_TLS_CERT")
    public static let mqttTLSInsecure = Setting(name: "MQTT_TLS_INSECURE", defaultValue: "false",
        help: "Skip the check that the broker's certificate names MQTT_HOSTNAME; for testing only")

    public static let tlsCert = Setting(name: "OCPP_TLS_CERT", defaultValue: "",
        help: "Server certificate chain (PEM) for wss://; with OCPP_TLS_KEY it turns TLS on (security profile 2)")
    public static let tlsKey = Setting(name: "OCPP_TLS_KEY", defaultValue: "", help: "Key (PEM) of OCPP_TLS_CERT")
    public static let tlsClientCA = Setting(name: "OCPP_TLS_CLIENT_CA", defaultValue: "",
        help: "Authorities for charger certificates (PEM): each charger must present one naming its station id (profile 3)")

    public static let outboxMaxMessages = Setting(name: "OUTBOX_MAX_MESSAGES", defaultValue: "1000000",
        help: "Most messages waiting for the broker (meter readings, transaction events, results); at it, transaction messages go unanswered")
    public static let outboxMaxBytes = Setting(name: "OUTBOX_MAX_BYTES", defaultValue: "268435456",
        help: "Most bytes waiting for the broker (256 MiB; held in memory and on disk); at it, transaction messages go unanswered")

    public static let relayURL = Setting(name: "RELAY_URL", defaultValue: "",
        help: "Relay mode: the upstream central system (ws:// or wss://); the station id replaces {station} or is appended")
    public static let relayAuth = Setting(name: "RELAY_AUTH", defaultValue: "forward",
        help: "How the gateway logs in to the upstream: forward (the charger's own credentials), basic or none")
    public static let relayPasswordFile = Setting(name: "RELAY_PASSWORD_FILE", defaultValue: "",
        help: "The password for RELAY_AUTH=basic (HTTP Basic with the station id)")
    public static let relayTLSCA = Setting(name: "RELAY_TLS_CA", defaultValue: "",
        help: "Authorities (PEM) for a wss:// upstream; unset: the system's")
    public static let relayStationsFile = Setting(name: "RELAY_STATIONS_FILE", defaultValue: "",
        help: "Per-station relay settings (JSON): another url, the upstream_id, the password at the upstream")
    public static let relayDeniedActions = Setting(name: "RELAY_DENIED_ACTIONS", defaultValue: "",
        help: "OCPP actions the upstream may never send to the chargers, comma-separated (UpdateFirmware,Reset)")
    public static let relayOfflineGrace = Setting(name: "RELAY_OFFLINE_GRACE", defaultValue: "30",
        help: "Seconds messages wait for an upstream that is away before RELAY_OFFLINE_MODE applies")
    public static let relaySecondaryURLs = Setting(name: "RELAY_SECONDARY_URLS", defaultValue: "",
        help: "Secondary central systems (ws:// or wss://, comma-separated) that get a copy of every charger message; of their calls only reads reach the charger")
    public static let relaySecondaryRights = Setting(name: "RELAY_SECONDARY_RIGHTS", defaultValue: "",
        help: "What becomes of the secondaries' calls besides the reads they may make: Action=forward|answer|reject, comma-separated")
    public static let relayControlIdle = Setting(name: "RELAY_CONTROL_IDLE", defaultValue: "600",
        help: "Seconds without a control action after which a backend's control of a shared charger is released")
    public static let relayControlPreferred = Setting(name: "RELAY_CONTROL_PREFERRED", defaultValue: "primary",
        help: "Backends (primary, or a secondary's name) that may take control of a shared charger from another, comma-separated")
    public static let relayControlBlocked = Setting(name: "RELAY_CONTROL_BLOCKED", defaultValue: "",
        help: "Backends that may never control a shared charger, comma-separated")
    public static let relayControlMinInterval = Setting(name: "RELAY_CONTROL_MIN_INTERVAL", defaultValue: "0",
        help: "The least seconds between two control actions of one backend on a shared charger")
    public static let providerPrices = Setting(name: "PROVIDER_PRICES", defaultValue: "",
        help: "Price of a kWh by who started the transaction (charger, mqtt, primary, a secondary's name), comma-separated: primary=0.35,charger=0.30")
    public static let relayReconnectMaxDelay = Setting(name: "RELAY_RECONNECT_MAX_DELAY", defaultValue: "30",
        help: "The longest wait between attempts to reach the upstream, seconds (the waits double from 0.5 s)")
    public static let relayOfflineMode = Setting(name: "RELAY_OFFLINE_MODE", defaultValue: "local",
        help: "When the upstream stays away past the grace period: local (the gateway answers in its place and queues what it missed) or close (the charger is closed)")
    public static let relayQueueMax = Setting(name: "RELAY_QUEUE_MAX", defaultValue: "5000",
        help: "Messages kept per station for an upstream that is away (readings are dropped first; starts and stops never)")
    public static let relaySnoop = Setting(name: "RELAY_SNOOP", defaultValue: "false",
        help: "Publish every frame to and from the upstream on <S>/ocpp/out and <S>/ocpp/in (not retained; they carry id tags)")

    public static let all: [Setting] = [
        envFile, listenAddr, listenPort, heartbeatInterval, callTimeout, pingInterval, pingTimeout, maxFrameSize,
        remoteStartWindow, authorizedTags, dataDir, logLevel,
        mqttHostname, mqttPort, mqttTransport, mqttUsername, mqttPassword, mqttClientID, mqttKeepalive,
        mqttReconnectBaseDelay, mqttReconnectMaxDelay, mqttTimeout, mqttWebsocketPath, mqttWebsocketHeaders,
        mqttBasePath, mqttUseStationName, mqttConnectorOneTopics, mqttSkipUnchanged, mqttQoS, expectedChargePoints, commandRetryAttempts, commandRetryBaseDelay, commandQueueMax,
        haDiscovery, haDiscoveryPrefix, haStatusTopic, maxCurrent, currentStep, remoteIDTag,
        adminAddr, adminPort, adminToken, adminTokenFile, adminTrustedAddresses, readyRequiresMQTT, logFormat, logDateFormat, logFile, logMaxSize, logBackupCount, shutdownTimeout, eventLoopThreads,
        stationPasswords, stationPasswordsFile, allowedStations, maxStations, handshakeTimeout, ocppVersions, maxConnectors, maxKnownStations,
        mqttTLSCA, mqttTLSCert, mqttTLSKey, mqttTLSInsecure, tlsCert, tlsKey, tlsClientCA, outboxMaxMessages, outboxMaxBytes,
        relayURL, relayAuth, relayPasswordFile, relayTLSCA, relayStationsFile, relayDeniedActions, relayOfflineGrace,
        relayOfflineMode, relayQueueMax, relaySnoop, relayReconnectMaxDelay, relaySecondaryURLs, relaySecondaryRights,
        relayControlIdle, relayControlPreferred, relayControlBlocked, relayControlMinInterval, providerPrices,
    ]
}
