import CentralSystem

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
    /// Passwords (security profile 1) and the allowlist.
    public var access: StationAccess
    /// The most stations connected at once (`OCPP_MAX_STATIONS`); more are refused with 503.
    public var maxStations: Int
    /// How long a new connection may take to complete its WebSocket handshake (`OCPP_HANDSHAKE_TIMEOUT`).
    public var handshakeTimeout: Duration
    /// TLS for chargers (`wss://`); nil for plain WebSocket.
    public var tls: TLSContextProvider?
    /// The OCPP versions chargers may speak, preferred first (`OCPP_VERSIONS`).
    public var versions: [OCPPVersion]

    public init(
        host: String = "0.0.0.0", port: Int = 3000, maxFrameSize: Int = 1 << 20,
        pingInterval: Duration? = .seconds(30), pingTimeout: Duration = .seconds(20),
        access: StationAccess = StationAccess(), maxStations: Int = 25_000, handshakeTimeout: Duration = .seconds(10),
        tls: TLSContextProvider? = nil, versions: [OCPPVersion] = [.v16, .v201]
    ) {
        self.versions = versions
        self.host = host
        self.port = port
        self.maxFrameSize = maxFrameSize
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.access = access
        self.maxStations = maxStations
        self.handshakeTimeout = handshakeTimeout
        self.tls = tls
    }
}
