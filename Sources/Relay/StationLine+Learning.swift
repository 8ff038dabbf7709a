import Foundation
import OCPP

/// What a station's line learns from the upstream's answers, and how it keeps that (called inside the line's lock).
extension StationLine {
    /// What the upstream's answer teaches: its heartbeat interval, its verdicts on id tags, the id it gave a start the
    /// gateway answered. Returns whether a transaction's ids changed.
    func learn(_ entry: Entry, _ payload: RawJSON, _ state: inout State) -> Bool {
        do throws(PayloadDecodingError) {
            switch entry.action {
            case .v201(let name):
                learn201(name, entry.call, payload, &state)
            case .v16(.bootNotification):
                let response = try PayloadCoding.decode(BootNotificationResponse.self, from: payload)
                state.standIn.facts.boot = entry.call.payload.bytes
                if response.status == .accepted {
                    if response.interval > 0 { state.standIn.facts.interval = response.interval }
                    state.standIn.facts.bootOwed = false  // the upstream has just had the charger's own
                }
                saveFacts(state)
            case .v16(.authorize):
                let request = try entry.call.decodePayload(as: AuthorizeRequest.self)
                let response = try PayloadCoding.decode(AuthorizeResponse.self, from: payload)
                learn(response.idTagInfo, request.idTag.value, &state)
            case .v16(.startTransaction):
                let request = try entry.call.decodePayload(as: StartTransactionRequest.self)
                let response = try PayloadCoding.decode(StartTransactionResponse.self, from: payload)
                learn(response.idTagInfo, request.idTag.value, &state)
                if let local = entry.localTransaction {
                    state.links[local] = response.transactionId
                    save { try store.saveTransactionLink(local: local, upstream: response.transactionId, station: station) }
                    logger.info("The upstream gave its id to a transaction the gateway started in its place", metadata: [
                        "ocpp.transaction_id": "\(local)", "relay.upstream_transaction_id": "\(response.transactionId)",
                    ])
                    return true
                }
            case .v16(.stopTransaction):
                let request = try entry.call.decodePayload(as: StopTransactionRequest.self)
                if let tag = request.idTag?.value, let info = try PayloadCoding.decode(StopTransactionResponse.self, from: payload).idTagInfo {
                    learn(info, tag, &state)
                }
                if state.links.removeValue(forKey: request.transactionId) != nil {
                    save { try store.saveTransactionLink(local: request.transactionId, upstream: nil, station: station) }
                }
                return true
            default:
                break
            }
        } catch {
            logger.warning("Cannot read the upstream's answer to a queued message", metadata: [
                "ocpp.action": "\(entry.action)", "ocpp.error": "\(error.reason)",
            ])
        }
        return false
    }

    /// OCPP 2.0.1: the upstream's heartbeat interval from its boot answer, its verdicts on tokens from Authorize and
    /// TransactionEvent (a verdict 1.6 has no name for is kept as Invalid).
    private func learn201(_ name: String, _ call: Call, _ payload: RawJSON, _ state: inout State) {
        switch name {
        case "BootNotification":
            state.standIn.facts.boot = call.payload.bytes
            if payload.string(at: ["status"]) == "Accepted" {
                if let interval = payload.integer(at: ["interval"]), interval > 0 { state.standIn.facts.interval = interval }
                state.standIn.facts.bootOwed = false
            }
            saveFacts(state)
        case "Authorize", "TransactionEvent":
            guard let token = call.payload.string(at: ["idToken", "idToken"]), let status = payload.string(at: ["idTokenInfo", "status"]) else { return }
            let expiry = payload.string(at: ["idTokenInfo", "cacheExpiryDateTime"]).flatMap(OCPPDateTime.parse)
            learn(IdTagInfo(status: AuthorizationStatus(rawValue: status) ?? .invalid, expiryDate: expiry), token, &state)
        default:
            break
        }
    }

    func learn(_ info: IdTagInfo, _ tag: String, _ state: inout State) {
        guard let verdict = state.standIn.learn(info, tag: tag) else { return }
        save { try store.saveTagVerdict(verdict, tag: tag.lowercased(), station: station) }
    }

    func saveFacts(_ state: State) {
        save { try store.saveRelayFacts(state.standIn.facts, station: station) }
    }

    func save(_ body: () throws -> Void) {
        do {
            try body()
        } catch {
            logger.error("Cannot save relay state", metadata: ["error": "\(error)"])
        }
    }
}
