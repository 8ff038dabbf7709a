/// How the MQTT client reaches its broker, and who it says it is.
public struct MQTTClientConfiguration: Sendable {
    public enum Transport: String, Sendable {
        /// TCP to `host:port`.
        case tcp
        /// A Unix domain socket at the path in `host`.
        case unix
        /// MQTT over WebSocket (subprotocol `mqtt`, binary frames) to `host:port` and ``webSocket``'s path: a broker
        /// behind a reverse proxy, or a cloud broker. With ``tls``, `wss`.
        case websockets
    }

    /// The WebSocket request, for ``Transport/websockets``.
    public struct WebSocket: Sendable, Hashable {
        /// The request's path (`/mqtt`, most brokers' and paho's default).
        public var path: String
        /// Headers added to the upgrade request (a proxy's token, say).
        public var headers: [String: String]

        public init(path: String = "/mqtt", headers: [String: String] = [:]) {
            self.path = path
            self.headers = headers
        }
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
    /// The longest wait for a connection to be made and accepted (TCP, TLS and the broker's CONNACK).
    public var connectTimeout: Duration
    /// The first wait before reconnecting; it doubles on every failed attempt up to `reconnectMaxDelay`.
    public var reconnectBaseDelay: Duration
    public var reconnectMaxDelay: Duration
    public var will: Will?
    /// TLS to the broker; nil for plain TCP.
    public var tls: TLS?
    /// The WebSocket request, with ``Transport/websockets``.
    public var webSocket: WebSocket

    /// TLS settings (`MQTT_TLS_*`).
    public struct TLS: Sendable, Hashable {
        /// PEM file of the certificate authorities that sign the broker's certificate.
        public var caFile: String
        /// Client certificate and key (PEM), for brokers that require one.
        public var certificateFile: String?
        public var keyFile: String?
        /// Skip the check that the broker's certificate names the host connected to. For tests only.
        public var insecure: Bool

        public init(caFile: String, certificateFile: String? = nil, keyFile: String? = nil, insecure: Bool = false) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.insecure = insecure
        }
    }

    public init(
        host: String = "localhost", port: Int = 1883, transport: Transport = .tcp, clientID: String,
        username: String? = nil, password: String? = nil, keepAlive: Int = 60, connectTimeout: Duration = .seconds(30),
        reconnectBaseDelay: Duration = .seconds(5), reconnectMaxDelay: Duration = .seconds(60), will: Will? = nil,
        tls: TLS? = nil, webSocket: WebSocket = WebSocket()
    ) {
        self.host = host
        self.port = port
        self.transport = transport
        self.clientID = clientID
        self.username = username
        self.password = password
        self.keepAlive = keepAlive
        self.connectTimeout = connectTimeout
        self.reconnectBaseDelay = reconnectBaseDelay
        self.reconnectMaxDelay = reconnectMaxDelay
        self.will = will
        self.tls = tls
        self.webSocket = webSocket
    }

    /// `host:port`, the socket path, or the WebSocket URL, for logs.
    public var brokerDescription: String {
        switch transport {
        case .unix: "unix:\(host)"
        case .tcp: "\(tls == nil ? "" : "tls://")\(host):\(port)"
        case .websockets: "\(tls == nil ? "ws" : "wss")://\(host):\(port)\(webSocket.path)"
        }
    }
}
