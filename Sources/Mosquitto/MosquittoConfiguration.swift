/// How the MQTT client reaches its broker.
public struct MosquittoConfiguration: Sendable {
    public enum Transport: String, Sendable {
        /// TCP to `host:port`.
        case tcp
        /// A Unix domain socket at the path in `host`.
        case unix
    }

    /// A message the broker publishes for us when we vanish (MQTT last will), and the one we publish
    /// ourselves before a clean disconnect.
    public struct Will: Sendable {
        public var topic: String
        public var payload: String
        public var qos: Int
        public var retain: Bool

        public init(topic: String, payload: String, qos: Int = 1, retain: Bool = true) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
        }
    }

    public var host: String
    public var port: Int
    public var transport: Transport
    /// At most 23 characters for brokers that hold to MQTT 3.1.1's limit.
    public var clientID: String
    public var username: String?
    public var password: String?
    /// Seconds between keep-alive pings.
    public var keepAlive: Int
    /// The first wait before reconnecting; it doubles on every failed attempt up to `reconnectMaxDelay`.
    public var reconnectBaseDelay: Duration
    public var reconnectMaxDelay: Duration
    public var will: Will?

    public init(
        host: String = "localhost", port: Int = 1883, transport: Transport = .tcp, clientID: String,
        username: String? = nil, password: String? = nil, keepAlive: Int = 60,
        reconnectBaseDelay: Duration = .seconds(5), reconnectMaxDelay: Duration = .seconds(60), will: Will? = nil
    ) {
        self.host = host
        self.port = port
        self.transport = transport
        self.clientID = clientID
        self.username = username
        self.password = password
        self.keepAlive = keepAlive
        self.reconnectBaseDelay = reconnectBaseDelay
        self.reconnectMaxDelay = reconnectMaxDelay
        self.will = will
    }

    /// `host:port`, or the socket path, for logs.
    public var brokerDescription: String {
        transport == .unix ? "unix:\(host)" : "\(host):\(port)"
    }
}
