import Foundation
import Logging
import OCPP
import OCPP201

/// OCPP 2.0.1 connections: every CALL is checked against the action's official schema (the 2.0.1 CallError names
/// for what does not fit), answered with a schema-valid response, and emitted as a ``Message201``.
extension CentralSystem {
    /// The charger-initiated actions of OCPP 2.0.1 (DataTransfer goes both ways).
    static var chargerActions201: Set<String> { MessageSchemas201.chargerInitiated }

    /// Relay mode: the 2.0.1 messages the upstream answers (it is authoritative for identity, authorization and
    /// billing); the gateway answers the others and passes them on.
    public static let relayedActions201: Set<String> = ["BootNotification", "Authorize", "TransactionEvent", "DataTransfer"]

    /// Relay mode: the answer to a 2.0.1 message handed to the upstream, checked against the action's response schema
    /// (one that does not fit gets the charger `InternalError` and a log line).
    func relay201(_ call: Call, ticket: RelayTicket, on link: Link) async -> Data? {
        guard let answer = await ticket.answer() else {
            OCPPMetrics.received(action: call.action, outcome: "unanswered")
            return nil
        }
        switch answer {
        case .callResult(let result):
            if case .violates(let violation) = MessageSchemas201.shared.check(call.action, .response, json: result.payload.bytes) {
                link.logger.error("The upstream central system's answer does not fit the schema", metadata: [
                    "ocpp.action": "\(call.action)", "ocpp.error": "\(violation)",
                ])
                OCPPMetrics.received(action: call.action, outcome: "error")
                return FrameCodec.encode(.callError(CallError(messageID: call.messageID, code: .internalError,
                                                              description: "the upstream central system's answer is not valid: \(violation)")))
            }
            if call.action == "Authorize", let token = call.payload.string(at: ["idToken", "idToken"]),
               let status = result.payload.string(at: ["idTokenInfo", "status"]) {
                emit(.message(station: link.station, .v201(.authorize(idToken: token, type: call.payload.string(at: ["idToken", "type"]) ?? "",
                                                                      status: status))))
            }
            upstreamRelay?.answered201(call, station: link.station)
            OCPPMetrics.received(action: call.action, outcome: "ok")
            return FrameCodec.encode(.callResult(CallResult(messageID: call.messageID, payload: result.payload)))
        case .callError(let error):
            OCPPMetrics.received(action: call.action, outcome: "error")
            return FrameCodec.encode(.callError(CallError(messageID: call.messageID, code: error.code, description: error.description,
                                                          details: error.details)))
        case .call:
            return nil
        }
    }

    /// The answers to the charger messages the gateway takes note of and has nothing to decide about: valid against
    /// their response schemas (a test checks each), never NotImplemented, which chargers retry.
    static let plainAnswers201: [String: JSONValue] = [
        "ClearedChargingLimit": [:], "FirmwareStatusNotification": [:], "LogStatusNotification": [:],
        "MeterValues": [:], "NotifyChargingLimit": [:], "NotifyCustomerInformation": [:], "NotifyDisplayMessages": [:],
        "NotifyEvent": [:], "NotifyMonitoringReport": [:], "NotifyReport": [:], "PublishFirmwareStatusNotification": [:],
        "ReportChargingProfiles": [:], "ReservationStatusUpdate": [:], "SecurityEventNotification": [:],
        "StatusNotification": [:],
        // No schedule from here: the charger goes on with its own.
        "NotifyEVChargingNeeds": ["status": "Rejected"], "NotifyEVChargingSchedule": ["status": "Accepted"],
        // No certificate authority here (as SignCertificate on 1.6).
        "Get15118EVCertificate": ["status": "Failed", "exiResponse": ""], "GetCertificateStatus": ["status": "Failed"],
        "SignCertificate": ["status": "Rejected"],
        "DataTransfer": ["status": "UnknownVendorId"],
    ]

    /// Handles one text message on a 2.0.1 connection (``receiveSynchronously(_:on:batch:)`` for 2.0.1).
    func receive201(_ text: some Collection<UInt8>, on link: Link, batch: DurableBatch?) -> Receipt {
        let frame: Frame
        do {
            frame = try FrameCodec.decode(text)
        } catch {
            OCPPMetrics.received(action: "malformed", outcome: "error")
            let reply = Self.callError201(for: error, text: text)
            if let reply { OCPPMetrics.callError(reply.code.rawValue, direction: "sent") }
            link.logger.warning("Malformed frame", metadata: [
                "ocpp.error_code": "\(reply?.code ?? error.code)", "ocpp.error": "\(error.reason)", "ocpp.frame_size": "\(text.count)",
            ])
            return .handled(reply: reply.map { FrameCodec.encode(.callError($0)) })
        }
        guard case .call(let call) = frame else { return .forSession(frame) }
        if !link.announced.value, !announce(link, batch: batch) {
            OCPPMetrics.received(action: "unknown_station", outcome: "error")
            return .handled(reply: FrameCodec.encode(.callError(CallError(
                messageID: call.messageID, code: .genericError,
                description: "the central system remembers \(configuration.maxKnownStations) stations already and takes no new one"))))
        }
        let relay = upstreamRelay
        let relayed = relay != nil && Self.relayedActions201.contains(call.action)
        // In relay mode an Authorize is published with the upstream's verdict, when it comes.
        guard let answer = handle201(call, link: link, batch: batch, emitting: !(relayed && call.action == "Authorize")) else {
            OCPPMetrics.received(action: call.action.prefix(64).description, outcome: "unanswered")
            return .handled(reply: nil)
        }
        if let relay, case .callResult = answer {
            if relayed {
                // The upstream answers it; the gateway's own answer stands in while the upstream is away.
                guard let ticket = relay.submit201(call, standIn: answer, station: link.station) else {
                    OCPPMetrics.received(action: call.action, outcome: "unanswered")
                    return .handled(reply: nil)
                }
                return .relayed(call, ticket: ticket)
            }
            relay.mirror201(call, station: link.station)  // durable before the charger's answer
        }
        if case .callError(let error) = answer {
            OCPPMetrics.received(action: Self.chargerActions201.contains(call.action) ? call.action : "unknown", outcome: "error")
            OCPPMetrics.callError(error.code.rawValue, direction: "sent")
        } else {
            answeredCounters[call.action]?.increment()  // made once, as 1.6's: every charger action has one
        }
        return .handled(reply: FrameCodec.encode(answer))
    }

    /// A frame that could not be read, answered as OCPP-J 2.0.1 names it: `RpcFrameworkError` when its message id
    /// could not be read, `FormatViolation` for what 1.6 calls FormationViolation, `MessageTypeNotSupported` for a
    /// message type number other than 2, 3 and 4 (with the frame's id when it has one).
    static func callError201(for error: FrameDecodingError, text: some Collection<UInt8>) -> CallError? {
        guard let id = error.replyMessageID else {
            // An unknown message type (1.6 ignores it), or a broken CALLRESULT or CALLERROR (never answered).
            guard case .array(let elements)? = JSONValue.parse(text), let type = elements.first?.intValue,
                  !(2...4).contains(type) else { return nil }
            let id = elements.count > 1 ? elements[1].stringValue ?? FrameCodec.unknownMessageID : FrameCodec.unknownMessageID
            return CallError(messageID: id, code: .messageTypeNotSupported, description: "message type \(type) is not supported")
        }
        if id == FrameCodec.unknownMessageID {
            return CallError(messageID: id, code: .rpcFrameworkError, description: error.reason)
        }
        let code: CallErrorCode = switch error.code {
        case .formationViolation: .formatViolation
        case .occurenceConstraintViolation: .occurrenceConstraintViolation
        default: error.code
        }
        return CallError(messageID: id, code: code, description: error.reason)
    }

    /// Answers one CALL of a 2.0.1 charger; nil leaves a transaction-related message unanswered while the
    /// ``DurabilityGate`` is closed (as on 1.6).
    /// - Parameter emitting: emit the message's event (relay mode leaves an Authorize's to the upstream's answer).
    func handle201(_ call: Call, link: Link, batch: DurableBatch?, emitting: Bool = true) -> Frame? {
        let station = link.station
        var logger = link.logger
        logger[metadataKey: "ocpp.action"] = "\(call.action.prefix(64))"
        func refuse(_ code: CallErrorCode, _ description: String) -> Frame {
            logger.warning("Refused", metadata: ["ocpp.error_code": "\(code)", "ocpp.error": "\(description)"])
            return .callError(CallError(messageID: call.messageID, code: code, description: description))
        }
        // Parsed once: the schema checks the document, and the handler reads it.
        guard let payload = JSONValue.parse(call.payload.bytes) else {
            return refuse(.formatViolation, "the payload is not JSON")
        }
        switch MessageSchemas201.shared.check(call.action, .request, payload) {
        case .unknownAction:
            return refuse(.notImplemented, "Unknown action '\(call.action.prefix(64))'")
        case .violates(let violation):
            return refuse(violation.kind.callErrorCode201, violation.description)
        case .fits:
            break
        }
        guard Self.chargerActions201.contains(call.action) else {
            return refuse(.notSupported, "\(call.action) is sent by a central system, not to one")
        }
        if call.action == "TransactionEvent" || call.action == "MeterValues", !durability.isOpen {
            logger.debug("Not answered: the outbox cannot keep its events now", metadata: ["ocpp.message_id": "\(call.messageID)"])
            return nil
        }
        let answer: JSONValue
        let message: Message201
        do {
            (answer, message) = try answer201(call.action, payload, station: station, logger: logger)
        } catch let refusal as Refusal {
            return refuse(refusal.code, refusal.description)
        } catch {
            logger.error("Could not answer", metadata: ["ocpp.error": "\(error)"])
            return .callError(CallError(messageID: call.messageID, code: .internalError, description: "The central system could not process the request"))
        }
        if emitting { emit(.message(station: station, .v201(message)), into: batch) }
        return .callResult(CallResult(messageID: call.messageID, payload: RawJSON(validatedBytes: Data(answer.text.utf8))))
    }

    /// The answer to a schema-valid request, and the message to emit.
    private func answer201(_ action: String, _ payload: JSONValue, station: String, logger: Logger) throws -> (JSONValue, Message201) {
        let nowText = JSONValue.string(OCPPDateTime.format(now()))
        switch action {
        case "BootNotification":
            let chargingStation = payload["chargingStation"]
            let boot = Boot201(
                vendor: chargingStation?["vendorName"]?.stringValue ?? "", model: chargingStation?["model"]?.stringValue ?? "",
                serialNumber: chargingStation?["serialNumber"]?.stringValue,
                firmwareVersion: chargingStation?["firmwareVersion"]?.stringValue,
                iccid: chargingStation?["modem"]?["iccid"]?.stringValue, imsi: chargingStation?["modem"]?["imsi"]?.stringValue,
                reason: payload["reason"]?.stringValue ?? "Unknown")
            logger.info("Boot", metadata: ["ocpp.vendor": "\(boot.vendor)", "ocpp.model": "\(boot.model)", "ocpp.boot_reason": "\(boot.reason)"])
            let moment = now()
            remember(station) {
                $0.boot = BootFacts(vendor: boot.vendor, model: boot.model, serialNumber: boot.serialNumber, firmwareVersion: boot.firmwareVersion)
                $0.lastSeen = moment
            }
            return (["currentTime": nowText, "interval": .int(Int(configuration.heartbeatInterval.seconds)), "status": "Accepted"],
                    .bootNotification(boot))
        case "Heartbeat":
            return (["currentTime": nowText], .heartbeat)
        case "StatusNotification":
            let evse = payload["evseId"]?.intValue ?? 0
            let connector = payload["connectorId"]?.intValue ?? 0
            try checkEVSE(evse)
            let status = payload["connectorStatus"]?.stringValue ?? ""
            logger.info("Status", metadata: ["ocpp.evse_id": "\(evse)", "ocpp.connector_id": "\(connector)", "ocpp.status": "\(status)"])
            return ([:], .statusNotification(evse: evse, connector: connector, status: status))
        case "Authorize":
            let token = payload["idToken"]?["idToken"]?.stringValue ?? ""
            let type = payload["idToken"]?["type"]?.stringValue ?? ""
            let status = authorize201(token, type: type, station: station)
            logger.info("Authorize", metadata: ["ocpp.id_tag": "\(redactedTag(token))", "ocpp.status": "\(status)"])
            return (["idTokenInfo": ["status": .string(status)]], .authorize(idToken: token, type: type, status: status))
        case "TransactionEvent":
            var event = try transactionEvent201(payload)
            // Authorized before the event is placed: the token that started a transaction is its own from then on.
            let status = event.idToken.map { authorize201($0, type: event.idTokenType ?? "", station: station, transaction: event.transactionId) }
            place(&event, station: station, accepted: status == "Accepted")
            // Started and Ended at info, as 1.6's StartTransaction and StopTransaction; the Updated events (the readings of
            // a transaction, one a minute or more) at debug, as MeterValues.
            logger.log(level: event.eventType == .updated && event.applies ? .debug : .info, "Transaction event", metadata: [
                "ocpp.transaction_id": "\(event.transactionId)", "ocpp.event_type": "\(event.eventType.rawValue)",
                "ocpp.seq_no": "\(event.seqNo)", "ocpp.trigger_reason": "\(event.triggerReason)", "ocpp.applied": "\(event.applies)",
            ])
            return (status.map { ["idTokenInfo": ["status": .string($0)]] } ?? [:], .transactionEvent(event))
        case "MeterValues":
            let evse = payload["evseId"]?.intValue ?? 0
            try checkEVSE(evse)
            let samples = MeterSample.normalise201(payload["meterValue"]?.arrayValue ?? [])
            if samples.contains(where: { !($0.value?.isFinite ?? true) }) {
                throw Refusal(.propertyConstraintViolation, "a sampled value is not a finite number in its unit")
            }
            return ([:], .meterValues(evse: evse, samples: samples))
        case "NotifyEvent":
            return ([:], .notifyEvent(payload["eventData"] ?? .array([])))
        case "NotifyReport":
            noteReport201(payload, station: station)
            return ([:], .other(action: action))
        case "SecurityEventNotification":
            let type = payload["type"]?.stringValue ?? ""
            logger.notice("Security event", metadata: ["ocpp.event_type": "\(type)"])
            return ([:], .securityEventNotification(type: type, timestamp: payload["timestamp"]?.stringValue.flatMap(OCPPDateTime.parse) ?? now()))
        case "FirmwareStatusNotification":
            return ([:], .firmwareStatusNotification(status: payload["status"]?.stringValue ?? ""))
        case "LogStatusNotification":
            return ([:], .logStatusNotification(status: payload["status"]?.stringValue ?? ""))
        case "DataTransfer":
            let data = payload["data"].map { $0.stringValue ?? $0.text }
            return (Self.plainAnswers201[action]!, .dataTransfer(vendorId: payload["vendorId"]?.stringValue ?? "",
                                                                 messageId: payload["messageId"]?.stringValue, data: data))
        default:
            return (Self.plainAnswers201[action] ?? [:], .other(action: action))
        }
    }

    /// EVSE ids are bounded like 1.6's connector ids (`OCPP_MAX_CONNECTORS`): a higher one creates no state.
    private func checkEVSE(_ id: Int) throws {
        guard id >= 0, id <= configuration.maxConnectors else {
            throw Refusal(.propertyConstraintViolation, "evseId \(id) is outside 0 to \(configuration.maxConnectors) (OCPP_MAX_CONNECTORS)")
        }
    }

    /// 1.6's rules for 2.0.1's tokens (the verdicts have the same names): `Blocked` while the charging switch is off,
    /// `Accepted` for a listed token, one of a recent accepted remote start, or the token that started the
    /// transaction; `Invalid` otherwise. A `NoAuthorization` token (free charging set up on the charger) is accepted.
    func authorize201(_ token: String, type: String, station: String, transaction: String? = nil) -> String {
        if type == "NoAuthorization" {
            return state.withLock { $0.persisted.stations[station]?.chargingEnabled == false } ? "Blocked" : "Accepted"
        }
        let status = authorize(token, station: station)
        if status == .invalid, let transaction,
           state.withLock({ $0.transactions201[station]?.open[transaction]?.idToken?.caseInsensitiveCompare(token) == .orderedSame }) {
            return "Accepted"
        }
        return status.rawValue
    }

    /// Reads a TransactionEvent.
    private func transactionEvent201(_ payload: JSONValue) throws -> TransactionEvent201 {
        let info = payload["transactionInfo"]
        let evse = payload["evse"]?["id"]?.intValue
        if let evse { try checkEVSE(evse) }
        let samples = MeterSample.normalise201(payload["meterValue"]?.arrayValue ?? []).filter { $0.value?.isFinite ?? true }
        return TransactionEvent201(
            eventType: TransactionEvent201.EventType(rawValue: payload["eventType"]?.stringValue ?? "") ?? .updated,
            transactionId: info?["transactionId"]?.stringValue ?? "", seqNo: payload["seqNo"]?.intValue ?? 0,
            timestamp: payload["timestamp"]?.stringValue.flatMap(OCPPDateTime.parse) ?? now(),
            triggerReason: payload["triggerReason"]?.stringValue ?? "", offline: payload["offline"]?.boolValue ?? false,
            evse: evse, connector: payload["evse"]?["connectorId"]?.intValue, chargingState: info?["chargingState"]?.stringValue,
            stoppedReason: info?["stoppedReason"]?.stringValue, idToken: payload["idToken"]?["idToken"]?.stringValue,
            idTokenType: payload["idToken"]?["type"]?.stringValue, remoteStartId: info?["remoteStartId"]?.intValue,
            samples: samples)
    }

    /// Places the event in its transaction (events apply in seqNo order, nothing after Ended moves the transaction's
    /// state) and gives it the transaction's meter start; an accepted token of a remote start is used up by the
    /// transaction it started. A new transaction, a meter start learned and an end are saved before the answer.
    private func place(_ event: inout TransactionEvent201, station: String, accepted: Bool) {
        let moment = now()
        let (save, ended) = state.withLock { state -> (StateSave?, Transaction201?) in
            let provider = event.idToken.map { Self.provider(of: $0, station: station, at: moment, in: state) } ?? "charger"
            let placed = state.transactions201[station, default: Transactions201()].place(event, station: station, provider: provider)
            event.applies = placed.applies
            event.transactionEVSE = placed.evse
            event.meterStart = placed.meterStart
            event.meterStop = placed.ended.flatMap { event.energy(.transactionEnd) ?? event.energy(nil) ?? $0.lastEnergy }
            if accepted, placed.applies, let token = event.idToken?.lowercased(), state.remoteStartTags[station]?[token] != nil {
                state.remoteStartTags[station]?.removeValue(forKey: token)
            }
            guard !placed.changes.isEmpty else { return (nil, placed.ended) }
            state.revision += 1
            var save = StateSave(revision: state.revision)
            save.transactions201 = placed.changes.map { StateSave.OpenTransaction201(station: station, id: $0.id, transaction: $0.record) }
            return (save, placed.ended)
        }
        // Logged, not refused, when the store fails: the event's publications are in the outbox regardless; what is
        // lost is what orders the transaction's events after a restart, or its line in the history.
        if let save { saveLogged(save, station: station) }
        if let ended { recordEnded201(ended, event) }
    }

    /// An ended 2.0.1 transaction into the history (`/api/transactions`, under the charger's id), with its meter
    /// readings in whole Wh: Ended's Transaction.End reading, else its last, else the last one the transaction reported.
    private func recordEnded201(_ transaction: Transaction201, _ event: TransactionEvent201) {
        guard let stop = event.meterStop, stop.isFinite, abs(stop) < 9e15 else {
            stationLogger(transaction.station).notice("A 2.0.1 transaction ended without any energy reading: not in the history", metadata: [
                "ocpp.transaction_id": "\(transaction.id)",
            ])
            return
        }
        do {
            try store.record(CompletedTransaction(
                id: 0, station: transaction.station, connectorId: transaction.evse, idTag: transaction.idToken,
                meterStart: transaction.meterStart.flatMap { $0.isFinite && abs($0) < 9e15 ? Int($0.rounded()) : nil },
                meterStop: Int(stop.rounded()), startedAt: transaction.startedAt, stoppedAt: event.timestamp,
                stopReason: event.stoppedReason ?? "Local", provider: transaction.provider, chargerTransactionId: transaction.id))
        } catch {
            stationLogger(transaction.station).error("Cannot record an ended transaction in the history", metadata: [
                "ocpp.transaction_id": "\(transaction.id)", "error": "\(error)",
            ])
        }
    }

    /// The OCPP 2.0.1 transactions not ended, of every station (for the bridge's start-up).
    public var activeTransactions201: [Transaction201] {
        state.withLock { $0.transactions201.values.flatMap { $0.open.values } }.sorted { $0.startedAt < $1.startedAt }
    }
}

/// A 2.0.1 station's transactions as the central system orders their events: each open one's record (the highest
/// seqNo applied, its EVSE, token and meter start), and the ids of the last ones ended (an event for one of those
/// changes nothing).
struct Transactions201: Sendable {
    var open: [String: Transaction201] = [:]
    /// The last ended ids, oldest first, at most ``endedKept``.
    var ended: [String] = []
    static let endedKept = 32
    /// Open transactions kept per station at most: a charger that starts transactions and never ends them does not
    /// grow this without bound (the one that started first is forgotten).
    static let openKept = 64

    struct Placement {
        var applies: Bool
        var evse: Int?
        /// The transaction's meter start as known after the event.
        var meterStart: Double?
        /// The records to save: a new or changed one, or nil for one ended or forgotten.
        var changes: [(id: String, record: Transaction201?)] = []
        /// The transaction the event ended, as it was (for the history).
        var ended: Transaction201?
    }

    /// - Parameter provider: who started the transaction, if the event starts one here.
    mutating func place(_ event: TransactionEvent201, station: String, provider: String = "charger") -> Placement {
        let id = event.transactionId
        if ended.contains(id) { return Placement(applies: false, evse: event.evse) }
        let known = open[id]
        var transaction = known ?? Transaction201(station: station, id: id, evse: event.evse, idToken: event.idToken, meterStart: nil,
                                                  startedAt: event.timestamp, highestSeqNo: -1, provider: provider)
        var changed = known == nil
        if transaction.evse == nil, event.evse != nil {
            transaction.evse = event.evse
            changed = true
        }
        if transaction.idToken == nil, event.idToken != nil {
            transaction.idToken = event.idToken
            changed = true
        }
        if event.eventType == .ended {
            open.removeValue(forKey: id)
            ended.append(id)
            if ended.count > Self.endedKept { ended.removeFirst(ended.count - Self.endedKept) }
            if transaction.meterStart == nil { transaction.meterStart = event.energy(.transactionBegin) }
            return Placement(applies: true, evse: transaction.evse, meterStart: transaction.meterStart, changes: known == nil ? [] : [(id, nil)],
                             ended: transaction)
        }
        guard event.seqNo > transaction.highestSeqNo else {
            return Placement(applies: false, evse: transaction.evse, meterStart: transaction.meterStart)
        }
        transaction.highestSeqNo = event.seqNo
        if let energy = event.energy(nil) { transaction.lastEnergy = energy }  // kept in memory; saved with the next save
        if transaction.meterStart == nil, let start = event.energy(.transactionBegin) ?? event.energy(nil) {
            // Transaction.Begin's reading, else the first one the transaction reports.
            transaction.meterStart = start
            changed = true
        }
        var placement = Placement(applies: true, evse: transaction.evse, meterStart: transaction.meterStart)
        if known == nil, open.count >= Self.openKept, let oldest = open.values.min(by: { $0.startedAt < $1.startedAt }) {
            open.removeValue(forKey: oldest.id)
            placement.changes.append((oldest.id, nil))
        }
        open[id] = transaction
        if changed { placement.changes.append((id, transaction)) }
        return placement
    }
}
