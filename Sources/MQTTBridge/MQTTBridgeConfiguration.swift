/// The MQTT contract's settings.
public struct MQTTBridgeConfiguration: Sendable {
    public var topics: TopicLayout
    /// QoS of everything the bridge publishes (`MQTT_QOS`).
    public var qos: Int
    /// Stations published as DISCONNECTED at start, before they connect (`EXPECTED_CHARGE_POINTS`).
    public var expectedStations: [String]
    /// How many times a command for a station that is not connected is tried again (`OCPP_COMMAND_RETRY_ATTEMPTS`).
    public var retryAttempts: Int
    /// The first wait between tries; it doubles each time (`OCPP_COMMAND_RETRY_BASE_DELAY`).
    public var retryBaseDelay: Duration
    /// The most commands waiting for one station (`OCPP_COMMAND_QUEUE_MAX`).
    public var commandQueueLimit: Int

    /// Home Assistant discovery; nil turns it off (`HA_DISCOVERY`).
    public var discovery: DiscoveryConfiguration?
    /// The controls' settings.
    public var controls: ControlConfiguration
    /// What `<base>/bridge/info` says about the gateway (no secrets).
    public var info: [String: JSONValue]
    /// The gateway's version, for discovery's origin block.
    public var version: String
    /// How much the outbox holds before transaction messages go unanswered (`OUTBOX_MAX_MESSAGES`, `OUTBOX_MAX_BYTES`).
    public var outboxLimits: OutboxLimits
    /// A meter reading's retained value equal to the one published last is not published again
    /// (`MQTT_SKIP_UNCHANGED`); the last value still goes out after every reconnect.
    public var skipUnchanged = false

    public init(
        topics: TopicLayout, qos: Int = 1, expectedStations: [String] = [], retryAttempts: Int = 5,
        retryBaseDelay: Duration = .milliseconds(300), discovery: DiscoveryConfiguration? = nil,
        controls: ControlConfiguration = ControlConfiguration(), info: [String: JSONValue] = [:], version: String = "dev",
        outboxLimits: OutboxLimits = OutboxLimits(), commandQueueLimit: Int = 100
    ) {
        self.commandQueueLimit = commandQueueLimit
        self.topics = topics
        self.qos = qos
        self.expectedStations = expectedStations
        self.retryAttempts = retryAttempts
        self.retryBaseDelay = retryBaseDelay
        self.discovery = discovery
        self.controls = controls
        self.info = info
        self.version = version
        self.outboxLimits = outboxLimits
    }
}

/// Home Assistant MQTT discovery settings.
public struct DiscoveryConfiguration: Sendable, Hashable {
    /// `HA_DISCOVERY_PREFIX`.
    public var prefix: String
    /// `HA_STATUS_TOPIC`.
    public var statusTopic: String

    public init(prefix: String = "homeassistant", statusTopic: String = "homeassistant/status") {
        self.prefix = prefix
        self.statusTopic = statusTopic
    }
}

/// The raw-value controls' settings.
public struct ControlConfiguration: Sendable, Hashable {
    /// The top of the max_current control, in amperes (`OCPP_MAX_CURRENT`).
    public var maxCurrent: Double
    /// Its step (`OCPP_CURRENT_STEP`).
    public var currentStep: Double
    /// The id tag the remote_start control sends (`OCPP_REMOTE_ID_TAG`).
    public var remoteIDTag: String
    /// Relay mode (`RELAY_URL`): `max_current` is a ChargePointMaxProfile, which the charger combines with the
    /// upstream's profiles by taking the lower limit, instead of a TxDefaultProfile the upstream's would replace.
    public var relayMode: Bool

    public init(maxCurrent: Double = 32, currentStep: Double = 1, remoteIDTag: String = "ocpp-gateway", relayMode: Bool = false) {
        self.maxCurrent = maxCurrent
        self.currentStep = currentStep
        self.remoteIDTag = remoteIDTag
        self.relayMode = relayMode
    }
}

import OCPP