import Foundation
import OCPP
import Synchronization

/// Relay mode's upstream central system, as the central system sees it (the `Relay` module implements it).
///
/// The upstream is authoritative for identity, authorization and billing: the central system hands it the charger's
/// messages it must answer (``CentralSystem/relayedActions``) and answers the charger with its answer; the others it
/// answers itself and passes on (``mirror(_:action:station:)``). Calls from the upstream reach the charger through the
/// station's session, one at a time with the gateway's own calls.
public protocol UpstreamRelay: Sendable {
    /// A charger connected: open its upstream connection. `close` ends the charger's connection (when the upstream
    /// stays away past the grace period, so the charger's own offline rules keep its messages).
    func stationAttached(_ station: String, info: ConnectionInfo, close: @escaping @Sendable () async -> Void)
    /// The charger left: close its upstream connection.
    func stationDetached(_ station: String)
    /// Takes a charger's CALL the upstream answers, in order with every other message of the station (called on the
    /// connection's thread, as it is read). The ticket gives the answer: the upstream's (a CALLRESULT or CALLERROR),
    /// the gateway's own when the upstream has been away past the grace period, or nil when none came (the charger
    /// then gets none, and sends the message again). Nil: the station is not relayed (it left).
    func submit(_ call: Call, action: Action, station: String) -> RelayTicket?
    /// Passes a message the gateway answered itself on to the upstream, in order and durably (it is kept when this
    /// returns); its answer is not waited for.
    func mirror(_ call: Call, action: Action, station: String)
    /// A message the relay answered (the upstream, or the gateway in its place) was answered with `answer`: the relay
    /// passes it on to the station's secondary central systems.
    func answered(_ call: Call, action: Action, answer: RawJSON, station: String)
    /// The station's open transactions changed (a start or stop the relay answered was taken in).
    func transactionsChanged(station: String)

    /// OCPP 2.0.1: a charger's CALL the upstream answers (``CentralSystem/relayedActions201``), in order with the
    /// station's others; `standIn` is the gateway's own answer, which the charger gets while the upstream is away past
    /// the grace period.
    func submit201(_ call: Call, standIn: Frame, station: String) -> RelayTicket?
    /// OCPP 2.0.1: a message the gateway answered itself, passed on to the upstream in order and durably.
    func mirror201(_ call: Call, station: String)
    /// OCPP 2.0.1: a message the relay answered was answered (it goes to the secondaries now: a secondary gets the
    /// charger's messages in the order the charger had them answered).
    func answered201(_ call: Call, station: String)
}

/// The answer to a message handed to the upstream (``UpstreamRelay/submit(_:action:station:)``): given once,
/// from any thread, and awaited once.
public final class RelayTicket: Sendable {
    private let state = Mutex<(answer: Frame??, waiter: CheckedContinuation<Frame?, Never>?)>((nil, nil))

    public init() {}

    /// Gives the answer (nil: none); only the first one counts.
    public func resolve(_ answer: Frame?) {
        let waiter = state.withLock { state -> CheckedContinuation<Frame?, Never>? in
            guard state.answer == nil else { return nil }
            state.answer = .some(answer)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: answer)
    }

    public var isResolved: Bool { state.withLock { $0.answer != nil } }

    /// Waits for the answer.
    public func answer() async -> Frame? {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Frame?? in
                if let answer = state.answer { return answer }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

extension CentralSystem {
    /// Makes the gateway a relay to `relay`'s upstream central system (set once, before chargers connect).
    public func setRelay(_ relay: any UpstreamRelay) {
        relayHolder.withLock { $0 = relay }
        relaying.store(true, ordering: .releasing)
    }

    var upstreamRelay: (any UpstreamRelay)? {
        relaying.load(ordering: .acquiring) ? relayHolder.withLock { $0 } : nil
    }

    /// Relay mode: a whole-charger availability the gateway itself set (the MQTT control) and the charger took. A local
    /// Inoperative wins over the upstream's Operative until the local switch is turned back.
    func noteLocalAvailability(request: RawJSON, answer: RawJSON, station: String) {
        guard let change = try? PayloadCoding.decode(ChangeAvailabilityRequest.self, from: request), change.connectorId == 0,
            let response = try? PayloadCoding.decode(ChangeAvailabilityResponse.self, from: answer), response.status != .rejected
        else { return }
        state.withLock { state in
            if change.type == .inoperative { state.localInoperative.insert(station) } else { state.localInoperative.remove(station) }
        }
    }

    /// Whether the gateway itself made the whole charger Inoperative (see ``sendRaw(action:payload:to:fromUpstream:)``).
    public func isLocallyInoperative(_ station: String) -> Bool {
        state.withLock { $0.localInoperative.contains(station) }
    }

    /// The owner's override of a station (`<S>/relay/set/override`): while on, the upstream's control calls are refused
    /// (``UpstreamOverride``); telemetry and local commands go on.
    public func setUpstreamOverride(_ on: Bool, station: String) {
        let changed = state.withLock { state in
            on ? state.upstreamOverrides.insert(station).inserted : state.upstreamOverrides.remove(station) != nil
        }
        if changed { logger.notice("The owner's override of the upstream central system", metadata: ["ocpp.station_id": "\(station)", "relay.override": "\(on)"]) }
    }

    public func upstreamOverride(_ station: String) -> Bool {
        state.withLock { $0.upstreamOverrides.contains(station) }
    }

    /// Sets what runs when a charger accepted the upstream's ClearChargingProfile, which may have removed the local
    /// current limit too (the MQTT bridge sends it again).
    public func setProfilesClearedHandler(_ handler: @escaping @Sendable (_ station: String) -> Void) {
        profilesCleared.withLock { $0 = handler }
    }

    /// A charger accepted the upstream's ClearChargingProfile.
    public func upstreamClearedProfiles(station: String) {
        profilesCleared.withLock { $0 }?(station)
    }

    /// Publishes where a station's upstream connection stands, for a station the gateway knows (a connection that never
    /// sent a message is not announced, its upstream connection neither).
    public func noteUpstream(_ status: UpstreamStatus, station: String) {
        upstreamEmission.withLock { _ in
            let known = state.withLock { state in
                let known = state.persisted.stations[station] != nil
                // Kept for the announcement of a station not known yet (its first message comes after the connection).
                if known || status.state != .disabled { state.upstream[station] = status } else { state.upstream[station] = nil }
                return known
            }
            if known { emit(.upstream(station: station, status)) }
        }
    }

    /// Publishes the depth of a station's upstream queue or its transactions' two ids (for a station the gateway knows).
    public func noteUpstream(_ detail: UpstreamDetail, station: String) {
        if state.withLock({ $0.persisted.stations[station] != nil }) { emit(.upstreamDetail(station: station, detail)) }
    }

    /// The gateway's own verdict on an id tag, as it answers without relaying: `Blocked` while the station's charging
    /// switch is off, `Accepted` for a listed tag or one of a recent remote start, else `Invalid`.
    public func localVerdict(_ idTag: String, station: String) -> AuthorizationStatus {
        authorize(idTag, station: station)
    }

    /// The station's open transactions, oldest first.
    public func openTransactions(of station: String) -> [Transaction] {
        state.withLock { $0.persisted.activeTransactions.values.filter { $0.station == station } }.sorted { $0.startedAt < $1.startedAt }
    }

    /// The messages the upstream answers in relay mode (the others the gateway answers at once, and passes on).
    public static let relayedActions: Set<Action> = [
        .bootNotification, .authorize, .startTransaction, .stopTransaction, .dataTransfer,
    ]

    /// Hands a charger's message the upstream answers to the relay, in order with the station's others.
    func submit(_ call: Call, action: Action, to relay: any UpstreamRelay, on link: Link) -> Receipt {
        // While the outbox cannot keep what it would publish: not forwarded, not answered; the charger sends it again.
        if action.isTransactionRelated && !durability.isOpen {
            OCPPMetrics.received(action: action.rawValue, outcome: "unanswered")
            return .handled(reply: nil)
        }
        guard let ticket = relay.submit(call, action: action, station: link.station) else {
            OCPPMetrics.received(action: action.rawValue, outcome: "unanswered")
            return .handled(reply: nil)
        }
        return .relayed(call, ticket: ticket)
    }

    /// Waits for the answer to a message handed to the relay and returns the frame to answer the charger with: the
    /// upstream's answer (or the gateway's in its place), after what it says has been taken in here (boot facts,
    /// transaction ids, the history). An answer that does not fit the action's schema gets the charger
    /// `InternalError` and a log line.
    public func relay(_ call: Call, ticket: RelayTicket, on link: Link) async -> Data? {
        if link.version == .v201 { return await relay201(call, ticket: ticket, on: link) }
        guard let action = Action(rawValue: call.action) else { return nil }
        guard let answer = await ticket.answer() else {
            OCPPMetrics.received(action: action.rawValue, outcome: "unanswered")
            return nil
        }
        switch answer {
        case .callResult(let result):
            do {
                try takeIn(call, action: action, answer: result.payload, station: link.station)
                upstreamRelay?.answered(call, action: action, answer: result.payload, station: link.station)
                OCPPMetrics.received(action: action.rawValue, outcome: "ok")
                return FrameCodec.encode(.callResult(CallResult(messageID: call.messageID, payload: result.payload)))
            } catch {
                link.logger.error("The upstream central system's answer does not fit the schema", metadata: [
                    "ocpp.action": "\(action)", "ocpp.error_code": "\(error.code)", "ocpp.error": "\(error.reason)",
                ])
                OCPPMetrics.received(action: action.rawValue, outcome: "error")
                return FrameCodec.encode(.callError(CallError(
                    messageID: call.messageID, code: .internalError,
                    description: "the upstream central system's answer is not valid: \(error.reason)")))
            }
        case .callError(let error):
            OCPPMetrics.received(action: action.rawValue, outcome: "error")
            return FrameCodec.encode(.callError(CallError(
                messageID: call.messageID, code: error.code, description: error.description, details: error.details)))
        case .call:
            return nil
        }
    }

    /// What the upstream's answer means here, published like the gateway's own answers would be.
    private func takeIn(_ call: Call, action: Action, answer: RawJSON, station: String) throws(PayloadDecodingError) {
        func both<Request: OCPPRequest>(_ type: Request.Type) throws(PayloadDecodingError) -> (Request, Request.Response) {
            (try call.decodePayload(as: Request.self), try PayloadCoding.decode(Request.Response.self, from: answer))
        }
        switch action {
        case .bootNotification:
            let (request, response) = try both(BootNotificationRequest.self)
            remember(station) {
                $0.boot = BootFacts(vendor: request.chargePointVendor.value, model: request.chargePointModel.value,
                                    serialNumber: (request.chargePointSerialNumber ?? request.chargeBoxSerialNumber)?.value,
                                    firmwareVersion: request.firmwareVersion?.value)
                $0.lastSeen = response.currentTime
            }
            emit(.message(station: station, .bootNotification(request, response)))
        case .authorize:
            let (request, response) = try both(AuthorizeRequest.self)
            emit(.message(station: station, .authorize(request, response)))
        case .startTransaction:
            let (request, response) = try both(StartTransactionRequest.self)
            recordUpstreamStart(request, response, station: station)
            emit(.message(station: station, .startTransaction(request, response)))
            upstreamRelay?.transactionsChanged(station: station)
        case .stopTransaction:
            let (request, response) = try both(StopTransactionRequest.self)
            let transaction = recordUpstreamStop(request, station: station)
            let samples = MeterSample.normalise(request.transactionData ?? []).filter { $0.value.map(\.isFinite) ?? true }
            emit(.message(station: station, .stopTransaction(request, response, transaction: transaction, samples: samples)))
            upstreamRelay?.transactionsChanged(station: station)
        case .dataTransfer:
            let (request, response) = try both(DataTransferRequest.self)
            emit(.message(station: station, .dataTransfer(request, response)))
        default:
            break
        }
    }

    /// Keeps a transaction the upstream started, under its id, so MQTT shows it and `remote_stop` finds it; an open
    /// one on the same connector ends, into the history as superseded (as a start does here).
    private func recordUpstreamStart(_ request: StartTransactionRequest, _ response: StartTransactionResponse, station: String) {
        let moment = now()
        let (superseded, save, transaction) = state.withLock { state in
            let transaction = Transaction(id: response.transactionId, station: station, connectorId: request.connectorId,
                                          idTag: request.idTag.value, meterStart: request.meterStart, startedAt: request.timestamp,
                                          provider: Self.provider(of: request.idTag.value, station: station, at: moment, in: state))
            if response.idTagInfo.status == .accepted { state.remoteStartTags[station]?.removeValue(forKey: request.idTag.value.lowercased()) }
            let superseded = Self.closeOpen(on: request.connectorId, of: station, for: transaction.id, in: &state)
            state.persisted.activeTransactions[transaction.id] = transaction
            return (superseded, state.save(transactions: [transaction.id] + superseded.map(\.id)), transaction)
        }
        do {
            try store.save(save)
        } catch {
            logger.error("Cannot save the upstream's transaction", metadata: ["ocpp.station_id": "\(station)", "error": "\(error)"])
        }
        recordSuperseded(superseded, by: request, newID: transaction.id, station: station)
    }

    /// Ends a transaction the upstream stopped, into the history; returns it when it was open here.
    private func recordUpstreamStop(_ request: StopTransactionRequest, station: String) -> Transaction? {
        let (transaction, save) = state.withLock { state -> (Transaction?, StateSave?) in
            guard let open = state.persisted.activeTransactions[request.transactionId], open.station == station else { return (nil, nil) }
            state.persisted.activeTransactions.removeValue(forKey: open.id)
            return (open, state.save(transactions: [open.id]))
        }
        do {
            if let save { try store.save(save) }
            try store.record(CompletedTransaction(
                id: request.transactionId, station: station, connectorId: transaction?.connectorId,
                idTag: transaction?.idTag ?? request.idTag?.value, meterStart: transaction?.meterStart, meterStop: request.meterStop,
                startedAt: transaction?.startedAt, stoppedAt: request.timestamp, stopReason: (request.reason ?? .local).rawValue,
                provider: transaction?.provider))
        } catch {
            logger.error("Cannot save the stop of the upstream's transaction", metadata: ["ocpp.station_id": "\(station)", "error": "\(error)"])
        }
        return transaction
    }
}

/// What the upstream gets for a control or exclusive call while the owner's override is on: the action's own refusal,
/// valid against its schema, or a CallError for an action whose answer cannot say no (UpdateFirmware).
public enum UpstreamOverride {
    /// The refusal for `action`; nil when the action is not refused (telemetry, RemoteStop, unlocking, triggers).
    public static func refusal(for call: Call, version: OCPPVersion = .v16) -> Frame? {
        if version == .v201 { return refusal201(for: call) }
        let payload: String
        switch Action(rawValue: call.action) {
        case .remoteStartTransaction, .setChargingProfile, .changeAvailability, .reset, .changeConfiguration, .reserveNow,
            .cancelReservation, .signedUpdateFirmware:
            payload = #"{"status":"Rejected"}"#
        case .clearChargingProfile: payload = #"{"status":"Unknown"}"#
        case .sendLocalList: payload = #"{"status":"Failed"}"#
        case .updateFirmware:
            return .callError(CallError(messageID: call.messageID, code: .genericError,
                                        description: "refused: the charger's owner has overridden the upstream central system"))
        default:
            return nil
        }
        return .callResult(CallResult(messageID: call.messageID, payload: RawJSON(validatedBytes: Data(payload.utf8))))
    }

    /// OCPP 2.0.1's control and exclusive calls, each refused in its own answer's words (SetVariables: each
    /// variable `Rejected`).
    static func refusal201(for call: Call) -> Frame? {
        let payload: JSONValue
        switch call.action {
        case "RequestStartTransaction", "SetChargingProfile", "ChangeAvailability", "Reset", "ReserveNow", "CancelReservation",
            "UpdateFirmware", "SetNetworkProfile", "InstallCertificate", "DeleteCertificate", "CertificateSigned":
            payload = ["status": "Rejected"]
        case "ClearChargingProfile": payload = ["status": "Unknown"]
        case "SendLocalList": payload = ["status": "Failed"]
        case "SetVariables":
            let data = JSONValue.parse(call.payload.bytes)?["setVariableData"]?.arrayValue ?? []
            payload = ["setVariableResult": .array(data.map {
                ["attributeStatus": "Rejected", "component": $0["component"] ?? [:], "variable": $0["variable"] ?? [:]]
            })]
        default:
            return nil
        }
        return .callResult(CallResult(messageID: call.messageID, payload: RawJSON(validatedBytes: Data(payload.text.utf8))))
    }
}
