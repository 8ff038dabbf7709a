import Foundation
import Logging
import OCPP

/// How the central system answers each message a charger sends.
extension CentralSystem {
    /// Answers one CALL. Never throws: every fault becomes the CALLERROR the spec names. The event of an
    /// answered message has reached the durable sink (see ``DurableEventSink``) when this returns, or is staged
    /// into `batch` when there is one.
    ///
    /// Returns nil, no answer at all, for a transaction-related message while the ``DurabilityGate`` is closed: its
    /// event could not be kept, and the charger sends the message again.
    /// - Parameter action: the call's action, `nil` when OCPP 1.6 has no such action.
    func handle(_ call: Call, action: Action?, station: String, logger: Logger, batch: DurableBatch? = nil) -> Frame? {
        guard let action else {
            logger.warning("Unknown action", metadata: ["ocpp.action": "\(call.action.prefix(64))"])
            return .callError(CallError(messageID: call.messageID, code: .notImplemented,
                                        description: "Unknown action '\(call.action.prefix(64))'"))
        }
        var logger = logger
        logger[metadataKey: "ocpp.action"] = "\(action)"
        logger.debug("CALL received", metadata: ["ocpp.message_id": "\(call.messageID)"])
        if action.isTransactionRelated && !durability.isOpen {
            // The bridge logged the episode once; one line per message would flood the log while it lasts.
            logger.debug("Not answered: the outbox cannot keep its events now", metadata: ["ocpp.message_id": "\(call.messageID)"])
            return nil
        }

        switch action {
        case .authorize:
            return answer(call, station, logger, batch) { (request: AuthorizeRequest) in
                let response = AuthorizeResponse(idTagInfo: IdTagInfo(status: authorize(request.idTag.value, station: station)))
                logger.info("Authorize", metadata: ["ocpp.id_tag": "\(redactedTag(request.idTag.value))",
                                                   "ocpp.status": "\(response.idTagInfo.status)"])
                return (response, .authorize(request, response))
            }
        case .bootNotification:
            return answer(call, station, logger, batch) { (request: BootNotificationRequest) in
                let response = BootNotificationResponse(
                    status: .accepted, currentTime: now(), interval: Int(configuration.heartbeatInterval.seconds))
                logger.info("Boot", metadata: ["ocpp.vendor": "\(request.chargePointVendor)", "ocpp.model": "\(request.chargePointModel)"])
                let facts = BootFacts(vendor: request.chargePointVendor.value, model: request.chargePointModel.value,
                                      serialNumber: (request.chargePointSerialNumber ?? request.chargeBoxSerialNumber)?.value,
                                      firmwareVersion: request.firmwareVersion?.value)
                remember(station) {
                    $0.boot = facts
                    $0.lastSeen = response.currentTime
                }
                return (response, .bootNotification(request, response))
            }
        case .dataTransfer:
            return answer(call, station, logger, batch) { (request: DataTransferRequest) in
                let response = configuration.dataTransferHandler?(station, request) ?? DataTransferResponse(status: .unknownVendorId)
                return (response, .dataTransfer(request, response))
            }
        case .diagnosticsStatusNotification:
            return answer(call, station, logger, batch) { (request: DiagnosticsStatusNotificationRequest) in
                (DiagnosticsStatusNotificationResponse(), .diagnosticsStatusNotification(request))
            }
        case .firmwareStatusNotification:
            return answer(call, station, logger, batch) { (request: FirmwareStatusNotificationRequest) in
                (FirmwareStatusNotificationResponse(), .firmwareStatusNotification(request))
            }
        case .heartbeat:
            return answer(call, station, logger, batch) { (_: HeartbeatRequest) in
                let response = HeartbeatResponse(currentTime: now())
                return (response, .heartbeat(response))
            }
        case .meterValues:
            return answer(call, station, logger, batch) { (request: MeterValuesRequest) in
                try checkConnector(request.connectorId)
                let samples = MeterSample.normalise(request.meterValue)
                // A value that is not a finite number (1e308 kWh is infinite in Wh, "NaN") cannot be published.
                if let bad = samples.first(where: { $0.value.map { !$0.isFinite } ?? false }) {
                    throw Refusal(.propertyConstraintViolation, "sampled value '\(bad.rawValue)' is not a finite number in \(bad.unit?.rawValue ?? "its unit")")
                }
                return (MeterValuesResponse(), .meterValues(request, samples: samples))
            }
        case .startTransaction:
            return answer(call, station, logger, batch) { (request: StartTransactionRequest) in
                try checkConnector(request.connectorId)
                let response = try startTransaction(request, station: station)
                logger.info("Transaction started", metadata: [
                    "ocpp.transaction_id": "\(response.transactionId)", "ocpp.connector_id": "\(request.connectorId)",
                    "ocpp.id_tag": "\(redactedTag(request.idTag.value))", "ocpp.status": "\(response.idTagInfo.status)",
                ])
                return (response, .startTransaction(request, response))
            }
        case .statusNotification:
            return answer(call, station, logger, batch) { (request: StatusNotificationRequest) in
                try checkConnector(request.connectorId)
                logger.info("Status", metadata: ["ocpp.connector_id": "\(request.connectorId)", "ocpp.status": "\(request.status)",
                                                "ocpp.error_code": "\(request.errorCode)"])
                remember(station) {
                    $0.connectors = ($0.connectors ?? [:]).merging(
                        [request.connectorId: ConnectorStatus(status: request.status.rawValue, errorCode: request.errorCode.rawValue)]) { _, new in new }
                }
                return (StatusNotificationResponse(), .statusNotification(request))
            }
        case .stopTransaction:
            return answer(call, station, logger, batch) { (request: StopTransactionRequest) in
                let (response, transaction) = try stopTransaction(request, station: station)
                logger.info("Transaction stopped", metadata: [
                    "ocpp.transaction_id": "\(request.transactionId)", "ocpp.reason": "\(request.reason ?? .local)",
                    "ocpp.known_transaction": "\(transaction != nil)",
                ])
                // Always answered: a sample that is not a finite number is left out rather than refusing the stop.
                let samples = MeterSample.normalise(request.transactionData ?? []).filter { $0.value.map(\.isFinite) ?? true }
                return (response, .stopTransaction(request, response, transaction: transaction, samples: samples))
            }
        case .securityEventNotification:
            return answer(call, station, logger, batch) { (request: SecurityEventNotificationRequest) in
                logger.notice("Security event", metadata: ["ocpp.event_type": "\(request.type)"])
                return (SecurityEventNotificationResponse(), .securityEventNotification(request))
            }
        case .signedFirmwareStatusNotification:
            return answer(call, station, logger, batch) { (request: SignedFirmwareStatusNotificationRequest) in
                (SignedFirmwareStatusNotificationResponse(), .signedFirmwareStatusNotification(request))
            }
        case .logStatusNotification:
            return answer(call, station, logger, batch) { (request: LogStatusNotificationRequest) in
                (LogStatusNotificationResponse(), .logStatusNotification(request))
            }
        default:
            // A known action this central system does not take from a charger (one it sends itself, or
            // SignCertificate, which needs a certificate authority).
            logger.warning("Action not supported from a charger")
            return .callError(CallError(messageID: call.messageID, code: .notSupported,
                                        description: "\(action) is not supported by this central system"))
        }
    }

    /// Decodes the request, runs `body`, emits the event and encodes the answer.
    private func answer<Request: OCPPRequest>(
        _ call: Call, _ station: String, _ logger: Logger, _ batch: DurableBatch?,
        _ body: (Request) throws -> (Request.Response, ChargePointMessage)
    ) -> Frame {
        let request: Request
        do {
            request = try call.decodePayload(as: Request.self)
        } catch {
            logger.warning("Invalid payload", metadata: ["ocpp.error_code": "\(error.code)", "ocpp.error": "\(error.reason)"])
            return .callError(CallError(messageID: call.messageID, code: error.code, description: error.reason))
        }
        do {
            let (response, message) = try body(request)
            let payload = try PayloadCoding.encode(response)
            emit(.message(station: station, message), into: batch)
            return .callResult(CallResult(messageID: call.messageID, payload: payload))
        } catch let refusal as Refusal {
            logger.warning("Refused", metadata: ["ocpp.error_code": "\(refusal.code)", "ocpp.error": "\(refusal.description)"])
            return .callError(CallError(messageID: call.messageID, code: refusal.code, description: refusal.description))
        } catch {
            logger.error("Could not answer", metadata: ["ocpp.error": "\(error)"])
            return .callError(CallError(messageID: call.messageID, code: .internalError,
                                        description: "The central system could not process the request"))
        }
    }

    /// What one station may create is bounded: a connector id above `maxConnectors` (`OCPP_MAX_CONNECTORS`) is
    /// refused before it creates any state, so a charger sending thousands of connector ids costs nothing but the
    /// answers (and other stations nothing at all).
    private func checkConnector(_ id: Int) throws {
        guard id >= 0, id <= configuration.maxConnectors else {
            throw Refusal(.propertyConstraintViolation,
                          "connectorId \(id) is outside 0 to \(configuration.maxConnectors) (OCPP_MAX_CONNECTORS)")
        }
    }

    /// A request that decodes but cannot be taken: answered with this CallError.
    struct Refusal: Error {
        var code: CallErrorCode
        var description: String
        init(_ code: CallErrorCode, _ description: String) {
            self.code = code
            self.description = description
        }
    }

    // MARK: Authorization and transactions

    /// `Blocked` while the station's charging switch is off; `Accepted` for a listed tag or one from a recent
    /// accepted remote start; `Invalid` otherwise.
    func authorize(_ idTag: String, station: String) -> AuthorizationStatus {
        let moment = now()
        return state.withLock { state in
            if state.persisted.stations[station]?.chargingEnabled == false { return .blocked }
            if configuration.authorizedTags.contains(where: { $0.caseInsensitiveCompare(idTag) == .orderedSame }) {
                return .accepted
            }
            if let start = state.remoteStartTags[station]?[idTag.lowercased()], start.until > moment {
                return .accepted
            }
            return .invalid
        }
    }

    private func startTransaction(_ request: StartTransactionRequest, station: String) throws -> StartTransactionResponse {
        let status = authorize(request.idTag.value, station: station)
        let (transaction, superseded, save) = state.withLock { state in
            let transaction = Transaction(
                id: TransactionIDs.next(after: state.persisted.lastTransactionID, at: now()), station: station,
                connectorId: request.connectorId, idTag: request.idTag.value, meterStart: request.meterStart, startedAt: request.timestamp,
                provider: Self.provider(of: request.idTag.value, station: station, at: now(), in: state))
            let superseded = Self.closeOpen(on: request.connectorId, of: station, for: transaction.id, in: &state)
            state.persisted.lastTransactionID = transaction.id
            state.persisted.activeTransactions[transaction.id] = transaction
            return (transaction, superseded, state.save(transactions: [transaction.id] + superseded.map(\.id), lastTransactionID: true))
        }
        // Saved before answering: an id the charger has seen is never handed out again.
        do {
            try store.save(save)
        } catch {
            // Not started. The id stays used (ids only grow); the charger, answered with an error, never saw it.
            state.withLock { state in
                state.persisted.activeTransactions.removeValue(forKey: transaction.id)
                for old in superseded { state.persisted.activeTransactions[old.id] = old }
            }
            throw error
        }
        recordSuperseded(superseded, by: request, newID: transaction.id, station: station)
        if status == .accepted {
            state.withLock { _ = $0.remoteStartTags[station]?.removeValue(forKey: request.idTag.value.lowercased()) }
        }
        return StartTransactionResponse(idTagInfo: IdTagInfo(status: status), transactionId: transaction.id)
    }

    /// Who started a transaction with `idTag`: the one whose remote start for that tag the charger accepted within the
    /// window, else the charger (a tag presented there).
    static func provider(of idTag: String, station: String, at moment: Date, in state: State) -> String {
        guard let start = state.remoteStartTags[station]?[idTag.lowercased()], start.until > moment else { return "charger" }
        return start.provider
    }

    /// A connector has one transaction at a time: a start on a connector whose transaction is still open (its stop was
    /// lost, or the charger restarted mid-session) ends that one. Takes the open ones out of `state` and returns them
    /// (for the save, and for ``recordSuperseded(_:by:newID:station:)`` once it is written). 5,000 starts on one connector
    /// left 5,000 open transactions before.
    static func closeOpen(on connector: Int, of station: String, for newID: Int, in state: inout State) -> [Transaction] {
        let superseded = state.persisted.activeTransactions.values.filter {
            $0.station == station && $0.connectorId == connector && $0.id != newID
        }
        for old in superseded { state.persisted.activeTransactions.removeValue(forKey: old.id) }
        return superseded
    }

    /// Puts the transactions a start superseded into the history, stopped at the new start's meter reading (their last
    /// known one), with the reason `Superseded`.
    func recordSuperseded(_ superseded: [Transaction], by request: StartTransactionRequest, newID: Int, station: String) {
        for old in superseded {
            stationLogger(station).notice("A new transaction on the connector ends the one still open there", metadata: [
                "ocpp.transaction_id": "\(old.id)", "ocpp.connector_id": "\(old.connectorId)", "ocpp.new_transaction_id": "\(newID)",
            ])
            try? store.record(CompletedTransaction(
                id: old.id, station: station, connectorId: old.connectorId, idTag: old.idTag, meterStart: old.meterStart,
                meterStop: request.meterStart, startedAt: old.startedAt, stoppedAt: request.timestamp, stopReason: "Superseded",
                provider: old.provider))
        }
    }

    private func stopTransaction(_ request: StopTransactionRequest, station: String) throws -> (StopTransactionResponse, Transaction?) {
        let (transaction, save) = state.withLock { state -> (Transaction?, StateSave?) in
            guard let transaction = state.persisted.activeTransactions[request.transactionId],
                transaction.station == station
            else {
                // Not open here: started on another central system, or a stop the charger repeats (the store keeps
                // that once).
                return (nil, nil)
            }
            state.persisted.activeTransactions.removeValue(forKey: request.transactionId)
            return (transaction, state.save(transactions: [request.transactionId]))
        }
        if let save, let transaction {
            do {
                try store.save(save)
            } catch {
                // Still open: the charger, answered with an error, sends the stop again.
                state.withLock { $0.persisted.activeTransactions[transaction.id] = transaction }
                throw error
            }
        }
        // Into the history before answering, like the start: a stop the charger has seen answered is kept.
        try store.record(CompletedTransaction(
            id: request.transactionId, station: station, connectorId: transaction?.connectorId,
            idTag: transaction?.idTag ?? request.idTag?.value, meterStart: transaction?.meterStart, meterStop: request.meterStop,
            startedAt: transaction?.startedAt, stoppedAt: request.timestamp, stopReason: (request.reason ?? .local).rawValue,
            provider: transaction?.provider))
        // Stopping is never refused; the tag that started the transaction, or any listed tag, is Accepted.
        var info: IdTagInfo?
        if let idTag = request.idTag?.value {
            let ownTag = transaction.map { $0.idTag.caseInsensitiveCompare(idTag) == .orderedSame } ?? false
            let listed = configuration.authorizedTags.contains { $0.caseInsensitiveCompare(idTag) == .orderedSame }
            info = IdTagInfo(status: ownTag || listed ? .accepted : .invalid)
        }
        return (StopTransactionResponse(idTagInfo: info), transaction)
    }
}
