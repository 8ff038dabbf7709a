import Foundation
import OCPP

/// Relay mode's settings (`RELAY_*`, docs/relay.md).
public struct RelayConfiguration: Sendable {
    /// The upstream central system (`RELAY_URL`): `ws://` or `wss://`. The station id (percent-encoded) replaces
    /// `{station}`, or is appended as the last path segment.
    public var url: UpstreamURL
    /// How the gateway logs in to the upstream for a station (`RELAY_AUTH`).
    public var authentication: Authentication
    /// Trust anchors for a `wss://` upstream (`RELAY_TLS_CA`, PEM); nil: the system's.
    public var tlsCA: String?
    /// How long charger messages wait for an upstream that is away before the charger is closed (`RELAY_OFFLINE_GRACE`).
    public var offlineGrace: Duration
    /// How long the upstream has to answer a message (`OCPP_CALL_TIMEOUT`).
    public var answerTimeout: Duration
    /// Per-station settings (`RELAY_STATIONS_FILE`), by the station id the charger uses.
    public var stations: [String: StationSettings]
    /// Actions the upstream may never send to the chargers (`RELAY_DENIED_ACTIONS`): refused with the action's own
    /// refusal where it has one, else the CallError `NotSupported`.
    public var deniedActions: Set<String>
    /// What happens when the upstream stays away past the grace period (`RELAY_OFFLINE_MODE`).
    public var offlineMode: OfflineMode
    /// How many messages a station's queue for the upstream keeps (`RELAY_QUEUE_MAX`).
    public var queueLimit: Int
    /// Whether every frame to and from the upstream is published raw (`RELAY_SNOOP`).
    public var snoop: Bool
    /// The longest wait between attempts to reach the upstream (`RELAY_RECONNECT_MAX_DELAY`); the waits double from 0.5 s.
    public var reconnectMaxDelay: Duration
    /// Secondary central systems every station's messages are mirrored to (`RELAY_SECONDARY_URLS`), unless the
    /// stations file names a station's own.
    public var secondaries: [Secondary]
    /// Top-level keys of the mirroring proxy's `config.json` the gateway ignores (logged at start-up).
    public var ignoredStationsFileKeys: [String]
    /// Who may control a shared charger when (`RELAY_CONTROL_*`): backends by name, `primary` or a secondary's.
    public var control = Control()

    public struct Control: Sendable, Hashable {
        /// Control is released after this long without a control action from its holder (`RELAY_CONTROL_IDLE`).
        public var idle: Duration = .seconds(600)
        /// Backends that may take control from another (`RELAY_CONTROL_PREFERRED`, default `primary`).
        public var preferred: Set<String> = ["primary"]
        /// Backends that may never control (`RELAY_CONTROL_BLOCKED`).
        public var blocked: Set<String> = []
        /// The least time between two control actions of one backend (`RELAY_CONTROL_MIN_INTERVAL`).
        public var minimumInterval: Duration = .zero

        public init() {}
    }

    /// A secondary central system: it gets a copy of every charger message (under its own transaction ids); its
    /// answers never reach the charger, and of its calls only reads do.
    public struct Secondary: Sendable, Hashable {
        public var url: UpstreamURL
        /// The id it knows the station by (in its URL, and the user of HTTP Basic).
        public var upstreamID: String?
        /// The station's password there (HTTP Basic); without one the gateway sends no credentials (the charger's own
        /// go to the primary only).
        public var password: String?
        /// Id tags it knows by another id: the charger's tag to its own (``everyTag``: any tag not named).
        public var idTags: [String: String]
        /// Its name in the sharing rules, events and logs (`name` in the stations file; default: the URL's host, with
        /// the port when it is not the scheme's).
        public var name: String {
            explicitName ?? (url.port == (url.secure ? 443 : 80) ? url.host : "\(url.host):\(url.port)")
        }
        public var explicitName: String?
        /// Its queue's bound (`queue_max` in the stations file); nil: `RELAY_QUEUE_MAX`.
        public var queueLimit: Int?
        /// The key of `idTags` for every tag not named (the proxy's `id_tag`).
        public static let everyTag = "*"
        /// What becomes of each of its calls to the charger: ``Right/forward`` for the reads (``readActions``) unless
        /// this says otherwise, ``Right/reject`` for every other action unless this says `forward`.
        public var rights: [String: Right]

        public init(url: UpstreamURL, upstreamID: String? = nil, password: String? = nil, idTags: [String: String] = [:],
                    rights: [String: Right] = [:]) {
            self.url = url
            self.upstreamID = upstreamID
            self.password = password
            self.idTags = idTags
            self.rights = rights
        }

        /// The calls a secondary may make unless its rights say otherwise: they read, and change nothing at the charger.
        public static let readActions: Set<String> = [
            Action.triggerMessage, .getConfiguration, .getDiagnostics, .getCompositeSchedule, .getLocalListVersion,
        ].reduce(into: [
            // OCPP 2.0.1's reads (TriggerMessage, GetCompositeSchedule and GetLocalListVersion have the same names).
            "GetVariables", "GetBaseReport", "GetReport", "GetTransactionStatus", "GetChargingProfiles", "GetDisplayMessages",
            "GetLog", "GetMonitoringReport", "GetInstalledCertificateIds",
        ]) { $0.insert($1.rawValue) }

        /// What becomes of its `action` (for ChangeConfiguration, of that configuration `key`: its own right first).
        public func right(for action: String, key: String? = nil) -> Right {
            if let key, let right = rights["\(action):\(key)"] { return right }
            return rights[action] ?? (Self.readActions.contains(action) ? .forward : .reject)
        }

        /// Whether its `action` (on `key`) reaches the charger.
        public func forwards(_ action: String, key: String? = nil) -> Bool {
            right(for: action, key: key) == .forward
        }
    }

    /// What becomes of a backend's call to the charger.
    public enum Right: String, Sendable, Hashable {
        /// It goes to the charger (in turn with every other call), and the answer back to that backend alone.
        case forward
        /// The backend gets the action's own refusal, or the CallError `NotSupported`; the charger never sees it.
        case reject
        /// The gateway answers the backend itself, with the action's acceptance; the charger never sees it. A
        /// secondary's answered RemoteStartTransaction makes its tag the one that secondary gets in the station's next
        /// StartTransaction. Only for actions whose answer can say yes without the charger (``answerable``).
        case answer
    }

    /// The actions the `answer` right can take, with the acceptance the gateway gives.
    public static let answerable: [String: String] = [
        Action.remoteStartTransaction.rawValue: #"{"status":"Accepted"}"#, Action.remoteStopTransaction.rawValue: #"{"status":"Accepted"}"#,
        Action.triggerMessage.rawValue: #"{"status":"Accepted"}"#, Action.reset.rawValue: #"{"status":"Accepted"}"#,
        Action.changeAvailability.rawValue: #"{"status":"Accepted"}"#, Action.changeConfiguration.rawValue: #"{"status":"Accepted"}"#,
        Action.clearCache.rawValue: #"{"status":"Accepted"}"#, Action.unlockConnector.rawValue: #"{"status":"Unlocked"}"#,
        Action.setChargingProfile.rawValue: #"{"status":"Accepted"}"#, Action.clearChargingProfile.rawValue: #"{"status":"Accepted"}"#,
        Action.cancelReservation.rawValue: #"{"status":"Accepted"}"#, Action.reserveNow.rawValue: #"{"status":"Accepted"}"#,
        Action.sendLocalList.rawValue: #"{"status":"Accepted"}"#,
        // OCPP 2.0.1's remote start and stop.
        "RequestStartTransaction": #"{"status":"Accepted"}"#, "RequestStopTransaction": #"{"status":"Accepted"}"#,
    ]

    /// Actions only one backend of a station may send to the charger: two that both could would undo each other.
    public static let exclusiveActions: Set<String> = [
        Action.reset, .changeConfiguration, .updateFirmware, .signedUpdateFirmware, .sendLocalList, .clearCache,
    ].reduce(into: []) { $0.insert($1.rawValue) }

    /// Whether the primary's `action` (on a configuration `key`) is denied (`RELAY_DENIED_ACTIONS`, where
    /// `ChangeConfiguration:<key>` denies one key).
    public func denies(_ action: String, key: String? = nil) -> Bool {
        deniedActions.contains(action) || key.map { deniedActions.contains("\(action):\($0)") } ?? false
    }

    /// The first exclusive action two of a station's backends could both send, described for the start-up's line; nil
    /// when there is none. ChangeConfiguration counts per key: two backends may each change keys of their own.
    public func exclusiveConflict() -> String? {
        let stationsNamed = stations.keys.sorted()
        let change = Action.changeConfiguration.rawValue
        for station in [nil] + stationsNamed.map(Optional.some) {
            let own = station.flatMap { stations[$0]?.secondaries }
            let add = station.flatMap { stations[$0]?.secondariesAddToEveryones } ?? false
            let all = own.map { add ? $0 + secondaries : $0 } ?? secondaries
            // Every configuration key a right or a denial names, and "any key" (nil).
            let keys: [String?] = [nil] + Set((all.flatMap { $0.rights.keys } + deniedActions).compactMap { name -> String? in
                let (action, key) = Self.splitKey(name)
                return action == change ? key : nil
            }).sorted().map(Optional.some)
            for action in Self.exclusiveActions.sorted() {
                for key in action == change ? keys : [nil] {
                    var senders = denies(action, key: key) ? [] : ["the primary (\(stations[station ?? ""]?.url ?? url))"]
                    senders += all.filter { $0.forwards(action, key: key) }.map { "secondary \($0.url)" }
                    if senders.count > 1 {
                        let what = key.map { "\(action) of \($0)" } ?? action
                        return "\(what) for \(station.map { "station '\($0)'" } ?? "every station"): \(senders[0]) and \(senders[1]) may both send it; reject it for one of them (RELAY_DENIED_ACTIONS, or the secondary's rights)"
                    }
                }
            }
        }
        return nil
    }

    /// One central system a station's relay side talks to, as a connection needs it.
    struct Backend: Sendable {
        /// `primary`, or the secondary's URL (in the store's keys).
        var name: String
        /// `primary`, or the secondary's name (in the sharing rules and events).
        var label: String
        var isPrimary: Bool
        var url: UpstreamURL
        var target: String
        var authorization: String?
        var idTags: [String: String]
        var queueLimit: Int
        /// A secondary's settings (its rights); nil for the primary.
        var secondary: Secondary?
    }

    /// The primary upstream of `station`, with the charger's own credentials where `RELAY_AUTH=forward`.
    func primary(for station: String, charger: String?) -> Backend {
        let (url, target) = upstream(for: station)
        return Backend(name: "primary", label: "primary", isPrimary: true, url: url, target: target, authorization: authorization(for: station, charger: charger),
                       idTags: stations[station]?.idTags ?? [:], queueLimit: queueLimit)
    }

    /// The secondaries of `station`: its own from the stations file, else `RELAY_SECONDARY_URLS`.
    func secondaries(for station: String) -> [Backend] {
        let own = stations[station]?.secondaries
        let all = own.map { stations[station]?.secondariesAddToEveryones == true ? $0 + secondaries : $0 } ?? secondaries
        return all.map { secondary in
            let id = secondary.upstreamID ?? station
            return Backend(name: "\(secondary.url)", label: secondary.name, isPrimary: false, url: secondary.url, target: secondary.url.target(for: id),
                           authorization: secondary.password.map { Self.basic(id, $0) }, idTags: secondary.idTags,
                           queueLimit: secondary.queueLimit ?? queueLimit, secondary: secondary)
        }
    }

    public enum OfflineMode: String, Sendable, Hashable {
        /// The gateway answers in the upstream's place, and keeps what it has not seen for it.
        case local
        /// The charger's connection is closed: its own offline rules take over.
        case close
    }

    /// What `RELAY_STATIONS_FILE` may say of one station; what it leaves out comes from the `RELAY_*` settings.
    public struct StationSettings: Sendable, Hashable {
        /// Another upstream for this station.
        public var url: UpstreamURL?
        /// The id the upstream knows the station by (in its URL, and as the user of HTTP Basic).
        public var upstreamID: String?
        /// This station's password at the upstream: HTTP Basic with the upstream id, whatever `RELAY_AUTH` says.
        public var password: String?
        /// Id tags the upstream knows by another id: the charger's tag to the upstream's (tags compare without case). Rewritten in Authorize, StartTransaction and StopTransaction going up, and back in the
        /// upstream's RemoteStartTransaction.
        public var idTags: [String: String]
        /// This station's secondaries, in place of `RELAY_SECONDARY_URLS` (an empty list: none).
        public var secondaries: [Secondary]?
        /// The proxy's `config.json` (``StationsFile``): the station's mapped secondaries come besides everyone's.
        var secondariesAddToEveryones = false

        public init(url: UpstreamURL? = nil, upstreamID: String? = nil, password: String? = nil, idTags: [String: String] = [:],
                    secondaries: [Secondary]? = nil) {
            self.url = url
            self.upstreamID = upstreamID
            self.password = password
            self.idTags = idTags
            self.secondaries = secondaries
        }
    }

    public enum Authentication: Sendable, Hashable {
        /// The charger's own `Authorization` header goes to the upstream (and to no one else).
        case forward
        /// HTTP Basic with the station id and this password (`RELAY_PASSWORD_FILE`).
        case basic(password: String)
        case none
    }

    public init(url: UpstreamURL, authentication: Authentication = .forward, tlsCA: String? = nil,
                offlineGrace: Duration = .seconds(30), answerTimeout: Duration = .seconds(30), stations: [String: StationSettings] = [:],
                deniedActions: Set<String> = [], offlineMode: OfflineMode = .local, queueLimit: Int = 5000, snoop: Bool = false,
                reconnectMaxDelay: Duration = .seconds(30), secondaries: [Secondary] = [], ignoredStationsFileKeys: [String] = []) {
        self.reconnectMaxDelay = reconnectMaxDelay
        self.secondaries = secondaries
        self.ignoredStationsFileKeys = ignoredStationsFileKeys
        self.url = url
        self.offlineMode = offlineMode
        self.queueLimit = queueLimit
        self.snoop = snoop
        self.deniedActions = deniedActions
        self.stations = stations
        self.authentication = authentication
        self.tlsCA = tlsCA
        self.offlineGrace = offlineGrace
        self.answerTimeout = answerTimeout
    }

    /// The `Authorization` header for `station`'s upstream connection, if any.
    func authorization(for station: String, charger: String?) -> String? {
        let upstreamID = stations[station]?.upstreamID ?? station
        if let password = stations[station]?.password { return Self.basic(upstreamID, password) }
        switch authentication {
        case .forward: return charger
        case .basic(let password): return Self.basic(upstreamID, password)
        case .none: return nil
        }
    }

    private static func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    /// Where `station`'s upstream connection goes: its URL and request target.
    func upstream(for station: String) -> (url: UpstreamURL, target: String) {
        let url = stations[station]?.url ?? self.url
        return (url, url.target(for: stations[station]?.upstreamID ?? station))
    }
}
