/// Every MQTT topic the gateway uses, built in one place.
///
/// `<S>` is the station's root: `MQTT_BASEPATH/<station>` when `MQTT_USESTATIONNAME` is on, else
/// `MQTT_BASEPATH` for every station (ocpp2mqtt's single-charger layout). Levels are joined with exactly one `/`.
public struct TopicLayout: Sendable, Hashable {
    /// `MQTT_BASEPATH` without leading or trailing slashes.
    public let basePath: String
    public let useStationName: Bool

    public init(basePath: String, useStationName: Bool) {
        self.basePath = basePath.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
        self.useStationName = useStationName
    }

    private func join(_ levels: String...) -> String {
        levels.filter { !$0.isEmpty }.joined(separator: "/")
    }

    /// `<S>`.
    public func stationRoot(_ station: String) -> String {
        useStationName ? join(basePath, station) : basePath
    }

    /// `<S>/state/<parameter>`, or `<S>/connector/<n>/state/<parameter>`.
    public func state(_ station: String, _ parameter: String, connector: Int? = nil) -> String {
        if let connector {
            return join(stationRoot(station), "connector", String(connector), "state", parameter)
        }
        return join(stationRoot(station), "state", parameter)
    }

    /// `<S>/cmd_result` (the JSON document) or `<S>/cmd_result/<field>`.
    public func commandResult(_ station: String, field: String? = nil) -> String {
        join(stationRoot(station), "cmd_result", field ?? "")
    }

    /// `<base>/bridge/state`: `online` / `offline`, retained, and the last will.
    public var bridgeState: String { join(basePath, "bridge", "state") }

    /// The filters the bridge subscribes to for commands.
    public var commandFilters: [String] {
        useStationName ? [join(basePath, "+", "cmd"), join(basePath, "+", "cmd", "#")] : [join(basePath, "cmd"), join(basePath, "cmd", "#")]
    }

    /// Where a command arrived: the station named by the topic (nil without station names), or nil when the
    /// topic is not a command topic.
    public func commandTarget(of topic: String) -> (station: String?, isCommand: Bool) {
        var levels = topic.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let base = basePath.isEmpty ? [] : basePath.split(separator: "/").map(String.init)
        guard levels.count > base.count, Array(levels.prefix(base.count)) == base else { return (nil, false) }
        levels.removeFirst(base.count)
        if useStationName {
            guard levels.count >= 2, !levels[0].isEmpty, levels[1] == "cmd" else { return (nil, false) }
            return (levels[0], true)
        }
        return (nil, levels.first == "cmd")
    }
}
