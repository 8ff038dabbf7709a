import Foundation
import OCPP
import OCPP201

/// Commands to OCPP 2.0.1 stations: 1.6 commands translated (``Translation201``), 2.0.1 calls by their own names, both
/// checked against the official schemas before they are sent and their answers after.
extension CentralSystem {
    /// The version the station's current connection speaks; nil while it is not connected.
    public func version(of station: String) -> OCPPVersion? {
        state.withLock { $0.connected[station]?.info.version }
    }

    /// OCPP 2.0.1: the station's open transactions (the charger's ids) with their EVSEs, in the order of their ids.
    public func openTransactions201(of station: String) -> [(evse: Int, id: String)] {
        state.withLock { state in
            (state.transactions201[station]?.open ?? [:]).compactMap { id, open in open.evse.map { ($0, id) } }.sorted { $0.id < $1.id }
        }
    }

    /// Sends an OCPP 2.0.1 call by its spec name to a 2.0.1 station and returns the charger's answer.
    public func send201(action: String, payload: RawJSON, to station: String) async -> Result<RawJSON, CommandError> {
        guard let session = state.withLock({ $0.sessions[station] }), let version = version(of: station) else {
            return .failure(.notConnected(station))
        }
        guard version == .v201 else {
            return .failure(CommandError(.invalidRequest,
                "\(SpecNames.snakeCase(action)) with these arguments is an OCPP 2.0.1 call, and station '\(station)' speaks OCPP 1.6"))
        }
        guard let json = JSONValue.parse(payload.bytes) else { return .failure(CommandError(.invalidRequest, "payload is not JSON")) }
        let result = await call201(action, json, session: session).map { RawJSON(validatedBytes: Data($0.text.utf8)) }
        if action == "RequestStartTransaction", case .success(let answer) = result {
            noteRemoteStart201(request: payload, answer: answer, station: station, provider: "mqtt")
        }
        return result
    }

    /// An accepted RequestStartTransaction's token is accepted by the station's Authorize and TransactionEvent within
    /// the remote start window (as a 1.6 remote start's tag).
    func noteRemoteStart201(request: RawJSON, answer: RawJSON, station: String, provider: String) {
        guard answer.string(at: ["status"]) == "Accepted", let tag = request.string(at: ["idToken", "idToken"]) else { return }
        let until = now().addingTimeInterval(configuration.remoteStartAuthorizationWindow.seconds)
        state.withLock { $0.remoteStartTags[station, default: [:]][tag.lowercased()] = RemoteStart(until: until, provider: provider) }
    }

    /// A 1.6 command for a 2.0.1 station.
    func sendTranslated201(action: String, payload: RawJSON, to station: String, session: StationSession) async -> Result<RawJSON, CommandError> {
        guard let json = JSONValue.parse(payload.bytes) else { return .failure(CommandError(.invalidRequest, "payload is not JSON")) }
        let id = nextRequestID201.add(1, ordering: .relaxed).newValue
        let plan: Translation201.Plan
        switch Translation201.plan(action, json, remoteStartId: id, requestId: id) {
        case .success(let made): plan = made
        case .failure(let failure): return .failure(CommandError(.invalidRequest, failure.message))
        }
        let answer: Result<JSONValue, CommandError>
        switch plan {
        case .call(let name, let body):
            answer = await call201(name, body, session: session).map { Translation201.answer($0, to: action) }
            if name == "RequestStartTransaction", case .success(let result) = answer {
                noteRemoteStart201(request: RawJSON(validatedBytes: Data(body.text.utf8)), answer: RawJSON(validatedBytes: Data(result.text.utf8)),
                                   station: station, provider: "mqtt")
            }
            if action == Action.changeAvailability.rawValue, case .success(let result) = answer {
                noteLocalAvailability(request: payload, answer: RawJSON(validatedBytes: Data(result.text.utf8)), station: station)
            }
        case .report(let body, let requestId):
            answer = await report201(body, requestId: requestId, station: station, session: session)
        }
        return answer.map { RawJSON(validatedBytes: Data($0.text.utf8)) }
    }

    /// Sends one call, its request and answer checked against their schemas.
    private func call201(_ action: String, _ payload: JSONValue, session: StationSession) async -> Result<JSONValue, CommandError> {
        switch MessageSchemas201.shared.check(action, .request, payload) {
        case .unknownAction: return .failure(CommandError(.invalidRequest, "\(action) is not an OCPP 2.0.1 action"))
        case .violates(let violation): return .failure(CommandError(.invalidRequest, "\(violation.kind.callErrorCode201): \(violation.description)"))
        case .fits: break
        }
        let started = ContinuousClock.now
        let result = await session.call(action: action, payload: RawJSON(validatedBytes: Data(payload.text.utf8)))
        OCPPMetrics.sent(action: action, result: result, after: ContinuousClock.now - started)
        switch result {
        case .failure(let error):
            return .failure(error)
        case .success(let raw):
            guard let answer = JSONValue.parse(raw.bytes) else { return .failure(CommandError(.invalidResponse, "answer is not JSON")) }
            if case .violates(let violation) = MessageSchemas201.shared.check(action, .response, answer) {
                return .failure(CommandError(.invalidResponse, "\(violation.kind.callErrorCode201): \(violation.description)"))
            }
            return .success(answer)
        }
    }

    /// get_configuration without keys: GetBaseReport, then the NotifyReport parts (in any order) assembled, within the
    /// call timeout from the charger's answer.
    private func report201(_ body: JSONValue, requestId: Int, station: String, session: StationSession) async -> Result<JSONValue, CommandError> {
        state.withLock { $0.reports201[station, default: [:]][requestId] = ReportAssembly201() }
        let answer = await call201("GetBaseReport", body, session: session)
        guard case .success(let accepted) = answer, accepted["status"]?.stringValue == "Accepted" else {
            state.withLock { _ = $0.reports201[station]?.removeValue(forKey: requestId) }
            return answer
        }
        let timeout = configuration.callTimeout
        let entries: [JSONValue]? = await withCheckedContinuation { continuation in
            let done = state.withLock { state -> [JSONValue]? in
                guard let assembly = state.reports201[station]?[requestId] else { return [] }
                if let complete = assembly.complete {
                    state.reports201[station]?.removeValue(forKey: requestId)
                    return complete
                }
                state.reports201[station]?[requestId]?.continuation = continuation
                return nil
            }
            if let done {
                continuation.resume(returning: done)
                return
            }
            Task {
                try? await Task.sleep(for: timeout)
                let waiting = self.state.withLock { $0.reports201[station]?.removeValue(forKey: requestId)?.continuation }
                waiting?.resume(returning: nil)
            }
        }
        guard let entries else {
            return .failure(CommandError(.timeout, "the charger accepted GetBaseReport but did not send the whole report within \(Int(timeout.seconds)) s"))
        }
        return .success(Translation201.configuration(fromReport: entries))
    }

    /// A NotifyReport part: kept for the get_configuration waiting for it, which gets the report once it is whole.
    func noteReport201(_ payload: JSONValue, station: String) {
        guard let requestId = payload["requestId"]?.intValue, let seqNo = payload["seqNo"]?.intValue, seqNo >= 0, seqNo < 10_000 else { return }
        let finished = state.withLock { state -> (CheckedContinuation<[JSONValue]?, Never>, [JSONValue])? in
            guard var assembly = state.reports201[station]?[requestId] else { return nil }
            assembly.parts[seqNo] = payload["reportData"]?.arrayValue ?? []
            if !(payload["tbc"]?.boolValue ?? false) { assembly.lastSeqNo = seqNo }
            if let complete = assembly.complete, let continuation = assembly.continuation {
                state.reports201[station]?.removeValue(forKey: requestId)
                return (continuation, complete)
            }
            state.reports201[station]?[requestId] = assembly
            return nil
        }
        if let (continuation, entries) = finished { continuation.resume(returning: entries) }
    }
}
