/// A command accepted from MQTT, on its way to its station.
struct CommandJob: Sendable {
    var command: Command
    /// The station named by the topic or the payload; nil means "the station that connected last".
    var station: String?
    /// A state parameter to publish when the command succeeds (a control's new value).
    var stateOnSuccess: (parameter: String, value: String)?
    /// Its id in the command store while it waits (OCPP commands only).
    var storedID: Int64?
    /// When the runner took it: its retry window runs from here.
    var accepted: ContinuousClock.Instant?
    /// Who waits for its result besides MQTT (a request to the admin API).
    var reply: CommandReplySlot?
}

/// A command refused before it was queued, with what its error result names.
struct RefusedCommand: Sendable, Equatable {
    var station: String
    var name: String?
    var requestID: String?
    var code: CommandResultCode
    var description: String
}
