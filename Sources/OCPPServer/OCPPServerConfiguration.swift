/// Where and how the server listens for chargers.
public struct OCPPServerConfiguration: Sendable {
    /// The address to listen on (`LISTEN_ADDR`).
    public var host: String
    /// The port to listen on (`LISTEN_PORT`); 0 picks a free port, which the "listening" log line names.
    public var port: Int
    /// The largest WebSocket message accepted, in bytes (`OCPP_MAX_FRAME_SIZE`); larger ones close the
    /// connection with 1009.
    public var maxFrameSize: Int
    /// How often to ping each charger (`OCPP_PING_INTERVAL`); `nil` sends no pings.
    public var pingInterval: Duration?
    /// How long a charger has to answer a ping, with a pong or anything else, before it is taken for dead
    /// (`OCPP_PING_TIMEOUT`).
    public var pingTimeout: Duration

    public init(
        host: String = "0.0.0.0", port: Int = 3000, maxFrameSize: Int = 1 << 20,
        pingInterval: Duration? = .seconds(30), pingTimeout: Duration = .seconds(20)
    ) {
        self.host = host
        self.port = port
        self.maxFrameSize = maxFrameSize
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
    }
}
