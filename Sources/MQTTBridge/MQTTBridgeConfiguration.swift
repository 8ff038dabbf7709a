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

    public init(
        topics: TopicLayout, qos: Int = 1, expectedStations: [String] = [], retryAttempts: Int = 5,
        retryBaseDelay: Duration = .milliseconds(300)
    ) {
        self.topics = topics
        self.qos = qos
        self.expectedStations = expectedStations
        self.retryAttempts = retryAttempts
        self.retryBaseDelay = retryBaseDelay
    }
}
