/// Every MQTT topic the gateway uses, built in one place.
///
/// `<S>` is the station's root: `MQTT_BASEPATH/<station>` when `MQTT_USESTATIONNAME` is on, else
/// `MQTT_BASEPATH` for every station (ocpp2mqtt's single-charger layout). Levels are joined with exactly one `/`.
public struct TopicLayout: Sendable, Hashable {
    /// `MQTT_BASEPATH` without leading or trailing slashes.
    public let basePath: String
    public let useStationName: Bool
    /// When connector 1's state is also published under `<S>/connector/1/state/…` (`MQTT_CONNECTOR_1_TOPICS`).
    /// It is always on the flat `<S>/state/…` topics.
    public let connectorOneTopics: ConnectorOneTopics

    /// When connector 1's state has a `connector/1` copy besides the flat topics.
    public enum ConnectorOneTopics: String, Sendable, Hashable {
        /// Always (`true`; the default before 0.9).
        case always = "true"
        /// For stations with more than one connector (or EVSE), known from a status, transaction or reading of
        /// connector 2 or above (`auto`, the default): a one-connector charger publishes each value once.
        case severalConnectors = "auto"
        /// Never (`false`).
        case never = "false"
    }

    public init(basePath: String, useStationName: Bool, connectorOneTopics: ConnectorOneTopics = .severalConnectors) {
        self.basePath = basePath.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
        self.useStationName = useStationName
        self.connectorOneTopics = connectorOneTopics
    }

    private func join(_ levels: String...) -> String {
        var topic = ""
        topic.reserveCapacity(levels.reduce(levels.count) { $0 + $1.utf8.count })
        for level in levels where !level.isEmpty {
            if !topic.isEmpty { topic += "/" }
            topic += level
        }
        return topic
    }

    /// `<S>`.
    public func stationRoot(_ station: String) -> String {
        useStationName ? join(basePath, station) : basePath
    }

    /// `<S>/state/` or `<S>/connector/<n>/state/`: with a parameter appended, the topic ``state(_:_:connector:)``
    /// gives.
    public func statePrefix(_ station: String, connector: Int? = nil) -> String {
        var prefix = connector.map { join(stationRoot(station), "connector", String($0), "state") } ?? join(stationRoot(station), "state")
        prefix += "/"
        return prefix
    }

    /// `<S>/state/<parameter>`, or `<S>/connector/<n>/state/<parameter>`.
    public func state(_ station: String, _ parameter: String, connector: Int? = nil) -> String {
        statePrefix(station, connector: connector) + parameter
    }

    /// `<S>/cmd_result` (the JSON document) or `<S>/cmd_result/<field>`.
    public func commandResult(_ station: String, field: String? = nil) -> String {
        join(stationRoot(station), "cmd_result", field ?? "")
    }

    /// `<S>/relay/<name>`: relay mode's view of the station's upstream connection.
    public func relay(_ station: String, _ name: String) -> String {
        join(stationRoot(station), "relay", name)
    }

    /// `<S>/relay/set/<name>`: relay mode's switches (the owner's `override`).
    /// Relay mode's snoop (`RELAY_SNOOP`): frames to the upstream on `<S>/ocpp/out`, from it on `<S>/ocpp/in`.
    public func snoop(_ station: String, outgoing: Bool) -> String {
        join(stationRoot(station), "ocpp", outgoing ? "out" : "in")
    }

    public func relayControl(_ station: String, _ name: String) -> String {
        join(stationRoot(station), "relay", "set", name)
    }

    /// Where a relay switch message arrived: the station (nil without station names) and the switch's name.
    public func relayControlTarget(of topic: String) -> (station: String?, name: String)? {
        guard let levels = levelsBelowBase(topic) else { return nil }
        if useStationName {
            guard levels.count == 4, !levels[0].isEmpty, levels[1] == "relay", levels[2] == "set", !levels[3].isEmpty else { return nil }
            return (levels[0], levels[3])
        }
        guard levels.count == 3, levels[0] == "relay", levels[1] == "set", !levels[2].isEmpty else { return nil }
        return (nil, levels[2])
    }

    /// `<S>/set/<name>`: a raw-value control.
    public func control(_ station: String, _ name: String) -> String {
        join(stationRoot(station), "set", name)
    }

    /// The levels of `topic` below the base path; nil when it is not below it.
    private func levelsBelowBase(_ topic: String) -> [String]? {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let base = basePath.isEmpty ? [] : basePath.split(separator: "/").map(String.init)
        guard levels.count > base.count, Array(levels.prefix(base.count)) == base else { return nil }
        return Array(levels.dropFirst(base.count))
    }

    /// Where a state topic belongs: its station (nil without station names) and its levels below the station's
    /// root (`state/status`, `connector/1/state/power_active_import`, `relay/queue`); nil for topics not below the
    /// base path and for the bridge's own (`<base>/bridge/...`).
    public func stationPath(of topic: String) -> (station: String?, path: String)? {
        guard let levels = levelsBelowBase(topic), levels.first != "bridge" else { return nil }
        if useStationName {
            guard levels.count >= 2, !levels[0].isEmpty else { return nil }
            return (levels[0], levels.dropFirst().joined(separator: "/"))
        }
        return (nil, levels.joined(separator: "/"))
    }

    /// `<base>/bridge/state`: `online` / `offline`, retained, and the last will.
    public var bridgeState: String { join(basePath, "bridge", "state") }

    /// `<base>/bridge/info`, `<base>/bridge/stations`, and the request/response pairs.
    public var bridgeInfo: String { join(basePath, "bridge", "info") }
    public var bridgeStations: String { join(basePath, "bridge", "stations") }
    public func bridgeResponse(_ name: String) -> String { join(basePath, "bridge", "response", name) }
    public var bridgeRequestFilter: String { join(basePath, "bridge", "request", "+") }

    /// The request name of a `<base>/bridge/request/<name>` topic.
    public func bridgeRequest(of topic: String) -> String? {
        let prefix = join(basePath, "bridge", "request") + "/"
        guard topic.hasPrefix(prefix) else { return nil }
        let name = String(topic.dropFirst(prefix.count))
        return name.isEmpty || name.contains("/") ? nil : name
    }

    /// The filters the bridge subscribes to for commands and controls.
    public var commandFilters: [String] {
        useStationName
            ? [join(basePath, "+", "cmd"), join(basePath, "+", "cmd", "#"), join(basePath, "+", "set", "+"),
               join(basePath, "+", "relay", "set", "+")]
            : [join(basePath, "cmd"), join(basePath, "cmd", "#"), join(basePath, "set", "+"), join(basePath, "relay", "set", "+")]
    }

    /// Where a control message arrived: the station (nil without station names) and the control's name.
    public func controlTarget(of topic: String) -> (station: String?, name: String)? {
        guard let levels = levelsBelowBase(topic) else { return nil }
        if useStationName {
            guard levels.count == 3, !levels[0].isEmpty, levels[1] == "set", !levels[2].isEmpty else { return nil }
            return (levels[0], levels[2])
        }
        guard levels.count == 2, levels[0] == "set", !levels[1].isEmpty else { return nil }
        return (nil, levels[1])
    }

    /// Where a command arrived: the station named by the topic (nil without station names), or nil when the
    /// topic is not a command topic.
    public func commandTarget(of topic: String) -> (station: String?, isCommand: Bool) {
        guard let levels = levelsBelowBase(topic) else { return (nil, false) }
        if useStationName {
            guard levels.count >= 2, !levels[0].isEmpty, levels[1] == "cmd", levels[0] != "bridge" else { return (nil, false) }
            return (levels[0], true)
        }
        return (nil, levels.first == "cmd")
    }
}

/// One station's state topics, for building many of them (an event's publications): each prefix (`<S>/state/`,
/// `<S>/connector/<n>/state/`) is made once, and a topic is then one string of prefix and parameter.
public struct StationStateTopics {
    public let layout: TopicLayout
    public let station: String
    /// The station is known to have more than one connector: with `MQTT_CONNECTOR_1_TOPICS=auto`, connector 1's state
    /// then has its `connector/1` copy.
    public var severalConnectors = false
    private var prefixes: [(connector: Int?, prefix: String)] = []

    public init(_ layout: TopicLayout, _ station: String) {
        self.layout = layout
        self.station = station
    }

    /// `<S>/state/<parameter>`, or `<S>/connector/<n>/state/<parameter>`.
    public mutating func state(_ parameter: String, connector: Int? = nil) -> String {
        prefix(connector) + parameter
    }

    /// Where a connector parameter is published, in this order: `<S>/connector/<n>/state/<parameter>`, and
    /// `<S>/state/<parameter>` for connector 1 (only there when connector 1 has no `connector/1` copy:
    /// ``connectorOneCopy``).
    public mutating func connectorState(_ parameter: String, connector: Int) -> (String, String?) {
        guard connector == 1 else { return (state(parameter, connector: connector), nil) }
        return connectorOneCopy ? (state(parameter, connector: 1), state(parameter)) : (state(parameter), nil)
    }

    /// Whether connector 1's state goes under `connector/1` as well as on the flat topics.
    public var connectorOneCopy: Bool {
        switch layout.connectorOneTopics {
        case .always: true
        case .severalConnectors: severalConnectors
        case .never: false
        }
    }

    private mutating func prefix(_ connector: Int?) -> String {
        if let known = prefixes.first(where: { $0.connector == connector }) { return known.prefix }
        let prefix = layout.statePrefix(station, connector: connector)
        prefixes.append((connector, prefix))
        return prefix
    }
}
