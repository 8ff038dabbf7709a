import Foundation
import OCPP

/// What the gateway answers in the upstream's place once it has been away past `RELAY_OFFLINE_GRACE`
/// (`RELAY_OFFLINE_MODE=local`), from what the upstream said before. Pure: the store and the clock are the caller's.
struct StandIn: Sendable {
    var facts: RelayFacts
    /// What the upstream said about id tags, by the tag in lower case (id tags compare without case).
    var verdicts: [String: TagVerdict]

    /// The answer to a charger's message the upstream would have answered, and whether the upstream must still see
    /// it (a transaction's start or stop: queued; a boot, an authorization or a data transfer: not).
    struct Answer {
        var frame: Frame
        /// Queue it, with this local transaction id for a start.
        var queued: Bool
        var localTransaction: Int?
    }

    /// - Parameter localVerdict: the gateway's own verdict on a tag (`AUTHORIZED_TAG_ID_LIST`, a recent remote
    ///   start, the charging switch).
    mutating func answer(_ call: Call, action: Action, now: Date, localVerdict: (String) -> AuthorizationStatus) -> Answer {
        func result(_ response: some Encodable) -> Frame {
            guard let payload = try? PayloadCoding.encode(response) else {
                return .callError(CallError(messageID: call.messageID, code: .internalError, description: "cannot encode the answer"))
            }
            return .callResult(CallResult(messageID: call.messageID, payload: payload))
        }
        do throws(PayloadDecodingError) {
            switch action {
            case .bootNotification:
                _ = try call.decodePayload(as: BootNotificationRequest.self)
                facts.boot = call.payload.bytes
                facts.bootOwed = true
                return Answer(frame: result(BootNotificationResponse(status: .accepted, currentTime: now, interval: facts.interval)), queued: false)
            case .authorize:
                let request = try call.decodePayload(as: AuthorizeRequest.self)
                return Answer(frame: result(AuthorizeResponse(idTagInfo: idTagInfo(request.idTag.value, now, localVerdict))), queued: false)
            case .startTransaction:
                let request = try call.decodePayload(as: StartTransactionRequest.self)
                let id = facts.nextLocalTransaction
                facts.nextLocalTransaction = id < RelayFacts.localTransactionIDs.upperBound ? id + 1 : RelayFacts.localTransactionIDs.lowerBound
                facts.bootOwed = true
                let info = idTagInfo(request.idTag.value, now, localVerdict)
                return Answer(frame: result(StartTransactionResponse(idTagInfo: info, transactionId: id)), queued: true, localTransaction: id)
            case .stopTransaction:
                let request = try call.decodePayload(as: StopTransactionRequest.self)
                facts.bootOwed = true
                let info = request.idTag.map { idTagInfo($0.value, now, localVerdict) }
                return Answer(frame: result(StopTransactionResponse(idTagInfo: info)), queued: true)
            case .dataTransfer:
                _ = try call.decodePayload(as: DataTransferRequest.self)
                return Answer(frame: result(DataTransferResponse(status: .unknownVendorId)), queued: false)
            default:
                return Answer(frame: .callError(CallError(messageID: call.messageID, code: .notImplemented,
                                                          description: "\(call.action) is not answered here")), queued: false)
            }
        } catch {
            return Answer(frame: .callError(CallError(messageID: call.messageID, code: error.code, description: error.reason)), queued: false)
        }
    }

    /// The upstream's last word on the tag while it holds (an expired verdict no longer does), else the gateway's own
    /// verdict (accepted or invalid). The charging switch off blocks every tag, as without relaying.
    func idTagInfo(_ tag: String, _ now: Date, _ localVerdict: (String) -> AuthorizationStatus) -> IdTagInfo {
        let local = localVerdict(tag)
        if local == .blocked { return IdTagInfo(status: .blocked) }
        if let verdict = verdicts[tag.lowercased()], verdict.expiry.map({ $0 > now }) ?? true {
            return IdTagInfo(status: verdict.status, expiryDate: verdict.expiry,
                             parentIdTag: verdict.parentIdTag.flatMap { try? CiString20($0) })
        }
        return IdTagInfo(status: local == .accepted ? .accepted : .invalid)
    }

    /// Learns what the upstream said about a tag; returns the verdict when it changed (to be kept).
    mutating func learn(_ info: IdTagInfo, tag: String) -> TagVerdict? {
        let verdict = TagVerdict(status: info.status, expiry: info.expiryDate, parentIdTag: info.parentIdTag?.value)
        guard verdicts[tag.lowercased()] != verdict else { return nil }
        verdicts[tag.lowercased()] = verdict
        return verdict
    }
}
