import CentralSystem
import Foundation
import Logging
import OCPP
import Synchronization

/// One station's messages for the upstream, in the order the charger sent them, and what the gateway knows to stand
/// in for the upstream while it is away.
///
/// Two kinds of message wait in the line: those the gateway answered itself (status, readings, notifications, and
/// while the upstream is away, transaction starts and stops), kept in the store from the moment they are taken until
/// the upstream answers them; and those whose charger waits for the upstream's answer (a ticket), kept in memory only
/// (a charger left without an answer sends its message again). The station's pump takes them one at a time, in order
/// (OCPP-J section 4.1.1: one outstanding call). Called from the charger's connection thread (``submit(_:action:)``,
/// ``mirror(_:action:)``) and from the pump; each call holds the lock only around memory and one store write.
final class StationLine: Sendable {
    struct Entry: Sendable {
        let id: UInt64
        /// Its row in the store; nil while a charger waits for the upstream's answer.
        var sequence: Int64?
        var call: Call
        var action: RelayAction
        var ticket: RelayTicket?
        /// OCPP 2.0.1: the gateway's own answer, given in the upstream's place once it is away past the grace period.
        var standIn: Frame?
        var localTransaction: Int?
        var attempts = 0
    }

    /// Where the upstream stands, as the line sees it.
    enum Link: Sendable, Equatable {
        /// Connected: the pump sends.
        case up
        /// Away, within the grace period: messages wait for it.
        case down
        /// Away past the grace period (`RELAY_OFFLINE_MODE=local`): the gateway answers in its place.
        case away
    }

    /// What an answered entry changed, for the station to publish.
    struct Completion: Sendable {
        var transactionsChanged = false
    }

    struct State {
        var entries: [Entry] = []
        var nextID: UInt64 = 0
        var standIn: StandIn
        var links: [Int: Int]
        var link: Link = .down
        var inFlight: UInt64?
        /// Called (outside the lock) when a message arrives while the link is up and nothing is in flight.
        var waker: (@Sendable () -> Void)?
        /// No charger connected: nothing is taken.
        var closed = true
        /// The charger connection the line serves now (its pump and link); the calls of an earlier one are ignored.
        var generation: UInt64 = 0
        /// Entries kept in the store.
        var stored = 0
        /// Messages dropped since the queue was last below its bound (for one log line per episode).
        var dropping = 0
        /// The depth last published on `<S>/relay/queue`.
        var reported: Int?
        /// A secondary's RemoteStartTransaction the gateway answered: its tag goes in the next StartTransaction.
        var answeredStartTag: String?
    }

    let station: String
    let state: Mutex<State>
    let store: any RelayStore
    private let limit: Int
    /// The station's id tag rewrite (`id_tags` of `RELAY_STATIONS_FILE`): the charger's tag to the upstream's.
    let idTags: [String: String]
    let logger: Logger
    let now: @Sendable () -> Date
    let localVerdict: @Sendable (String) -> AuthorizationStatus
    /// The OCPP version of the station's charger, which its messages (and the upstream connection) speak.
    let version: OCPPVersion

    /// Takes up the station's backlog as the store kept it (a message that cannot be read any more is dropped, with a
    /// log line).
    init(station: String, backlog: RelayBacklog, store: any RelayStore, limit: Int, idTags: [String: String] = [:], logger: Logger,
         now: @escaping @Sendable () -> Date = Date.init, version: OCPPVersion = .v16,
         localVerdict: @escaping @Sendable (String) -> AuthorizationStatus) {
        self.version = version
        self.station = station
        self.idTags = idTags
        self.store = store
        self.limit = limit
        self.logger = logger
        self.now = now
        self.localVerdict = localVerdict
        var state = State(standIn: StandIn(facts: backlog.facts, verdicts: backlog.verdicts), links: backlog.links)
        var unreadable: [Int64] = []
        for (sequence, message) in backlog.messages {
            guard case .call(let call)? = try? FrameCodec.decode(message.frame), let action = RelayAction(call.action, version: version) else {
                unreadable.append(sequence)
                continue
            }
            state.entries.append(Entry(id: state.nextID, sequence: sequence, call: call, action: action,
                                       localTransaction: message.localTransaction))
            state.nextID += 1
            state.stored += 1
        }
        if !unreadable.isEmpty {
            logger.error("Dropped queued messages for the upstream that cannot be read", metadata: ["relay.dropped": "\(unreadable.count)"])
            try? store.removeRelayMessages(unreadable)
        }
        self.state = Mutex(state)
    }

    var link: Link { state.withLock { $0.link } }
    /// Messages kept for the upstream (`<S>/relay/queue`).
    var queued: Int { state.withLock { $0.stored } }

    /// A RemoteStartTransaction of this line's secondary the gateway answered itself (the `answer` right): `tag` goes
    /// to it in the station's next StartTransaction.
    func answeredRemoteStart(tag: String) {
        state.withLock { $0.answeredStartTag = tag }
    }

    /// The queue's depth when it changed since the last call (for `<S>/relay/queue`), else nil.
    func queueReport() -> Int? {
        state.withLock { state in
            guard state.reported != state.stored else { return nil }
            state.reported = state.stored
            return state.stored
        }
    }

    /// The upstream's id for a transaction id the charger uses: the same, or the one it gave a start the gateway
    /// answered (nil while it has not).
    func upstreamTransaction(for local: Int) -> Int? {
        state.withLock { $0.links[local] ?? (RelayFacts.localTransactionIDs.contains(local) ? nil : local) }
    }

    /// The charger's id for a transaction id of the upstream's (for its calls to the charger).
    func localTransaction(for upstream: Int) -> Int? {
        state.withLock { $0.links.first(where: { $0.value == upstream })?.key }
    }

    // MARK: From the charger's connection

    /// A message the upstream answers: it waits in line for the upstream, or is answered at once in its place when it
    /// has been away past the grace period.
    /// - Parameter standIn: OCPP 2.0.1: the gateway's own answer, for when the upstream is away (1.6's comes from
    ///   ``StandIn``).
    func submit(_ call: Call, action: RelayAction, standIn: Frame? = nil) -> RelayTicket {
        let ticket = RelayTicket()
        let (answer, wake) = state.withLock { state -> (Frame?, (@Sendable () -> Void)?) in
            if state.closed { return (nil, nil) }
            if state.link == .away {
                return (self.standIn(call, action, standIn, &state), nil)
            }
            append(Entry(id: state.nextID, call: call, action: action, ticket: ticket, standIn: standIn), &state)
            return (nil, waker(state))
        }
        wake?()
        if answer != nil || state.withLock({ $0.closed }) { ticket.resolve(answer) }
        return ticket
    }

    /// A message the gateway answered itself (or, for a secondary, any message the charger was answered): kept for the
    /// upstream, in order, before the charger's answer goes out. Heartbeats are not kept while the upstream is away
    /// (the boot sent when it is back says more). A secondary's start carries the transaction id the charger got, to
    /// be linked to the secondary's own.
    func mirror(_ call: Call, action: RelayAction, localTransaction: Int? = nil) {
        let wake = state.withLock { state -> (@Sendable () -> Void)? in
            if state.closed || (action.isHeartbeat && state.link == .away) { return nil }
            var call = call
            if action == .v16(.startTransaction), let tag = state.answeredStartTag {
                state.answeredStartTag = nil
                call.payload = call.payload.replacingString(at: ["idTag"], with: tag) ?? call.payload
            }
            var entry = Entry(id: state.nextID, call: call, action: action, localTransaction: localTransaction)
            keep(&entry, &state)
            append(entry, &state)
            return waker(state)
        }
        wake?()
    }

    /// A 1.6 message the upstream answers (``submit(_:action:standIn:)``).
    func submit(_ call: Call, action: Action) -> RelayTicket {
        submit(call, action: .v16(action))
    }

    /// A 1.6 message the gateway answered itself (``mirror(_:action:localTransaction:)``).
    func mirror(_ call: Call, action: Action, localTransaction: Int? = nil) {
        mirror(call, action: .v16(action), localTransaction: localTransaction)
    }

    // MARK: From the station's pump

    /// The next message for the upstream, marked in flight; nil when there is none, the link is not up, one is in
    /// flight already, or `generation` is not the line's connection any more.
    func take(_ generation: UInt64) -> Entry? {
        state.withLock { state in
            guard !state.closed, state.link == .up, state.generation == generation, state.inFlight == nil,
                let head = state.entries.first
            else { return nil }
            state.inFlight = head.id
            return head
        }
    }

    /// Sets what is called when a message arrives while the link is up and nothing is in flight (the pump's kick).
    func setWaker(_ generation: UInt64, _ waker: (@Sendable () -> Void)?) {
        state.withLock { state in
            if state.generation == generation { state.waker = waker }
        }
    }

    /// The frame that goes up for `entry`: under the gateway's message id, with the upstream's transaction id where
    /// the charger uses one the gateway gave, and the upstream's id tag where the station's rewrite names the charger's.
    func frame(for entry: Entry, messageID: String) -> [UInt8] {
        var payload = entry.call.payload
        // Most readings go up as they are: the payload is scanned only while a link exists.
        if entry.action == .v16(.meterValues) || entry.action == .v16(.stopTransaction), !state.withLock({ $0.links.isEmpty }),
            let local = payload.integer(at: ["transactionId"]), let upstream = state.withLock({ $0.links[local] }),
            let translated = payload.replacingInteger(at: ["transactionId"], with: upstream) {
            payload = translated
        }
        if !idTags.isEmpty, entry.action == .v16(.authorize) || entry.action == .v16(.startTransaction) || entry.action == .v16(.stopTransaction),
            let tag = payload.string(at: ["idTag"]),
            let upstream = idTags.first(where: { $0.key.caseInsensitiveCompare(tag) == .orderedSame })?.value ?? idTags[RelayConfiguration.Secondary.everyTag],
            let rewritten = payload.replacingString(at: ["idTag"], with: upstream) {
            payload = rewritten
        }
        return Array(FrameCodec.encode(.call(Call(messageID: messageID, action: entry.call.action, payload: payload))))
    }

    /// The upstream answered `entry` (or did not: nil, after the timeout or a drop). A waiting charger gets the answer;
    /// a kept message leaves the store, or is tried again (three times, then dropped with a log line).
    func complete(_ id: UInt64, answer: Frame?) -> Completion {
        var completion = Completion()
        let ticket = state.withLock { state -> RelayTicket? in
            if state.inFlight == id { state.inFlight = nil }
            guard let index = state.entries.firstIndex(where: { $0.id == id }) else { return nil }
            let entry = state.entries[index]
            guard let answer else {
                if entry.ticket != nil {
                    state.entries.remove(at: index)
                    return entry.ticket
                }
                state.entries[index].attempts += 1
                if state.entries[index].attempts >= 3 {
                    logger.error("Dropped a queued message the upstream did not answer three times", metadata: [
                        "ocpp.action": "\(entry.action)", "ocpp.message_id": "\(entry.call.messageID)",
                    ])
                    remove(at: index, &state)
                }
                return nil
            }
            remove(at: index, &state)
            if case .callError(let error) = answer, entry.ticket == nil {
                logger.warning("The upstream refused a queued message", metadata: [
                    "ocpp.action": "\(entry.action)", "ocpp.error_code": "\(error.code)", "ocpp.error": "\(error.description.prefix(200))",
                ])
            }
            if case .callResult(let result) = answer {
                completion.transactionsChanged = learn(entry, result.payload, &state)
            }
            return entry.ticket
        }
        ticket?.resolve(answer)
        return completion
    }

    /// The BootNotification the upstream must get before the queue (the gateway answered in its place), if any.
    func owedBoot() -> RawJSON? {
        state.withLock { state in
            guard state.standIn.facts.bootOwed, let boot = state.standIn.facts.boot else { return nil }
            return RawJSON(validatedBytes: boot)
        }
    }

    /// The upstream answered the owed boot: nil when it accepted it (the queue goes next), else how long to wait
    /// before the next boot (its interval, at least 10 s and at most 5 minutes).
    func bootAnswered(_ answer: Frame?) -> Duration? {
        // Read by name: 1.6's and 2.0.1's answers both have `status` and `interval`.
        guard case .callResult(let result)? = answer, let status = result.payload.string(at: ["status"]),
              let interval = result.payload.integer(at: ["interval"])
        else { return .seconds(10) }
        guard status == "Accepted" else { return .seconds(min(max(interval, 10), 300)) }
        state.withLock { state in
            state.standIn.facts.bootOwed = false
            if interval > 0 { state.standIn.facts.interval = interval }
            saveFacts(state)
        }
        return nil
    }

    // MARK: Inside the lock

    func append(_ entry: Entry, _ state: inout State) {
        state.entries.append(entry)
        state.nextID += 1
    }

    /// The waker to call after an append: the link is up and nothing is in flight.
    func waker(_ state: State) -> (@Sendable () -> Void)? {
        state.link == .up && state.inFlight == nil ? state.waker : nil
    }

    /// The answer in the upstream's place: 1.6's from ``StandIn``; 2.0.1's the gateway's own (`given`), with what the
    /// upstream said of the token before, and a TransactionEvent kept for the upstream.
    func standInAnswer(_ call: Call, _ action: RelayAction, _ given: Frame?, _ state: inout State) -> StandIn.Answer {
        switch action {
        case .v16(let action):
            return state.standIn.answer(call, action: action, now: now(), localVerdict: localVerdict)
        case .v201(let name):
            if name == "BootNotification" {
                state.standIn.facts.boot = call.payload.bytes
                state.standIn.facts.bootOwed = true
            }
            if name == "TransactionEvent" { state.standIn.facts.bootOwed = true }
            var frame = given ?? .callError(CallError(messageID: call.messageID, code: .internalError, description: "no answer"))
            if case .callResult(var result) = frame, let token = call.payload.string(at: ["idToken", "idToken"]),
               result.payload.string(at: ["idTokenInfo", "status"]) == "Accepted" || result.payload.string(at: ["idTokenInfo", "status"]) == "Invalid",
               let verdict = state.standIn.verdicts[token.lowercased()], verdict.expiry.map({ $0 > now() }) ?? true,
               let learned = result.payload.replacingString(at: ["idTokenInfo", "status"], with: verdict.status.rawValue) {
                result.payload = learned
                frame = .callResult(result)
            }
            return StandIn.Answer(frame: frame, queued: name == "TransactionEvent")
        }
    }

    /// Answers a message in the upstream's place; a start or stop is kept for it.
    func standIn(_ call: Call, _ action: RelayAction, _ given: Frame?, _ state: inout State) -> Frame {
        let answer = standInAnswer(call, action, given, &state)
        if answer.queued {
            var entry = Entry(id: state.nextID, call: call, action: action, localTransaction: answer.localTransaction)
            keep(&entry, &state)
            append(entry, &state)
        }
        saveFacts(state)
        return answer.frame
    }

    /// Writes an entry to the store, making room first when the queue is at its bound: the oldest reading goes, or
    /// the oldest message that is not a transaction's start or stop; those never go.
    func keep(_ entry: inout Entry, _ state: inout State) {
        if state.stored >= limit {
            let droppable = state.entries.firstIndex { $0.sequence != nil && $0.id != state.inFlight && $0.action.isReading }
                ?? state.entries.firstIndex {
                    $0.sequence != nil && $0.id != state.inFlight && !$0.action.isTransactionBoundary($0.call)
                }
            if let droppable {
                if state.dropping == 0 {
                    logger.warning("The queue for the upstream is full (RELAY_QUEUE_MAX): dropping its oldest readings, then other notifications; transaction starts and stops are kept", metadata: [
                        "relay.queue_max": "\(limit)",
                    ])
                }
                state.dropping += 1
                RelayMetrics.dropped(state.entries[droppable].action.name)
                remove(at: droppable, &state)
            }
        } else if state.dropping > 0, state.stored < limit * 9 / 10 {
            logger.notice("The queue for the upstream is below its bound again", metadata: ["relay.dropped": "\(state.dropping)"])
            state.dropping = 0
        }
        let message = QueuedMessage(frame: Array(FrameCodec.encode(.call(entry.call))), localTransaction: entry.localTransaction)
        do {
            entry.sequence = try store.appendRelayMessage(message, station: station)
            state.stored += 1
        } catch {
            // Kept in memory only: it still goes up while the gateway runs.
            logger.error("Cannot keep a message for the upstream in the store", metadata: ["error": "\(error)"])
        }
    }

    func remove(at index: Int, _ state: inout State) {
        let entry = state.entries.remove(at: index)
        guard let sequence = entry.sequence else { return }
        state.stored -= 1
        do {
            try store.removeRelayMessages([sequence])
        } catch {
            logger.error("Cannot remove a message the upstream has from the store", metadata: ["error": "\(error)"])
        }
    }
}
