import CentralSystem

/// Reads command messages (`<S>/cmd`, JSON) and control messages (`<S>/set/<control>`, plain values) into jobs, or
/// into the error result that refuses them. Pure: what it needs of the running gateway (the station that connected
/// last, the open transactions) is passed in.
struct CommandIntake: Sendable {
    enum Outcome: Sendable {
        case job(CommandJob)
        case refused(RefusedCommand)
        /// Not a command or control topic.
        case ignored
    }

    var topics: TopicLayout
    var controls: ControlConfiguration
    /// The target of controls when no station has connected yet and topics carry no station names.
    var expectedStations: [String]
    /// OCPP 2.0.1 stations' open transactions by EVSE (remote_stop needs the charger's id).
    var transactions201: @Sendable (_ station: String) -> [(evse: Int, id: String)] = { _ in [] }

    static let retainedRefusal = "retained commands are ignored; publish commands without the retain flag"

    /// - Parameters:
    ///   - lastConnected: the station that connected last (the target when the topic and payload name none).
    ///   - transactions: the open transactions of a station (controls that stop one need its id).
    func accept(
        topic: String, payload: [UInt8], retained: Bool, lastConnected: String?, transactions: (String) -> [Transaction]
    ) -> Outcome {
        if let (topicStation, name) = topics.controlTarget(of: topic) {
            return acceptControl(station: topicStation, name: name, payload: payload, retained: retained, lastConnected: lastConnected,
                                 transactions: transactions)
        }
        let (topicStation, isCommand) = topics.commandTarget(of: topic)
        guard isCommand else { return .ignored }
        // An empty payload is someone clearing a retained command (`mosquitto_pub -r -n`), not a command. The broker
        // passes the clear on to current subscribers without its retain flag, so any empty command is taken so.
        if payload.isEmpty { return .ignored }
        let parsed = CommandParser.parse(payload)
        let station = topicStation ?? (try? parsed.get().station) ?? lastConnected ?? ""
        if retained {
            // A retained command would run again at every restart and reconnect: refuse it, once.
            return .refused(RefusedCommand(station: station, name: try? parsed.get().name, requestID: try? parsed.get().requestID,
                                           code: .invalidCommand, description: Self.retainedRefusal))
        }
        switch parsed {
        case .failure(let rejection):
            return .refused(RefusedCommand(station: station, name: rejection.name, requestID: rejection.requestID,
                                           code: rejection.code, description: rejection.message))
        case .success(let command):
            return .job(CommandJob(command: command, station: topicStation ?? command.station))
        }
    }

    /// A command for `station` from the admin API: `<S>/cmd`'s JSON, checked as from MQTT; the station is the
    /// request's, whatever the payload names.
    func accept(command payload: [UInt8], station: String) -> Outcome {
        switch CommandParser.parse(payload) {
        case .failure(let rejection):
            return .refused(RefusedCommand(station: station, name: rejection.name, requestID: rejection.requestID,
                                           code: rejection.code, description: rejection.message))
        case .success(var command):
            command.station = station
            return .job(CommandJob(command: command, station: station))
        }
    }

    func acceptControl(
        station topicStation: String?, name: String, payload: [UInt8], retained: Bool, lastConnected: String?,
        transactions: (String) -> [Transaction]
    ) -> Outcome {
        let station = topicStation ?? lastConnected ?? expectedStations.first
        // As for commands: an empty payload is someone clearing a retained control (`mosquitto_pub -r -n`), which
        // reaches current subscribers without its retain flag; taking it as "connector 1" would unlock or start
        // charging on it.
        if payload.isEmpty { return .ignored }
        if retained {
            return .refused(RefusedCommand(station: station ?? "", name: name, requestID: nil, code: .invalidCommand,
                                           description: Self.retainedRefusal))
        }
        let open = station.map(transactions) ?? []
        let open201 = station.map(transactions201) ?? []
        switch Controls.convert(name: name, payload: payload, settings: controls,
                                transaction201: { evse in open201.last { $0.evse == evse }?.id },
                                transaction: { connector in open.last { $0.connectorId == connector }?.id }) {
        case .failure(let rejection):
            return .refused(RefusedCommand(station: station ?? "", name: name, requestID: nil, code: rejection.code,
                                           description: rejection.message))
        case .success(let converted):
            return .job(CommandJob(command: converted.command, station: topicStation, stateOnSuccess: converted.stateOnSuccess))
        }
    }
}
