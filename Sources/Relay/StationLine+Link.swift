import CentralSystem
import Foundation
import OCPP

/// Where the upstream stands for a station's line: a charger connection opens it, the pump's connection moves the
/// link up and down, the grace period sends it away (the gateway answers in the upstream's place), and the charger's
/// leaving closes it.
extension StationLine {

    /// A charger connected: the line serves its connection from now on (the returned generation), the upstream away
    /// until ``linkUp(_:)`` (past the grace period still, if it was when the last connection ended).
    func open() -> UInt64 {
        let tickets = state.withLock { state -> [RelayTicket] in
            // An earlier connection's messages waiting for an answer get none: that connection is being closed.
            let tickets = state.entries.compactMap(\.ticket)
            state.entries.removeAll { $0.ticket != nil }
            state.closed = false
            state.generation += 1
            // An upstream away past the grace period stays so for the next connection: its charger is answered at once.
            if state.link != .away { state.link = .down }
            state.inFlight = nil
            state.waker = nil
            return tickets
        }
        for ticket in tickets { ticket.resolve(nil) }
        return state.withLock { $0.generation }
    }

    func linkUp(_ generation: UInt64) {
        state.withLock { state in
            if state.generation == generation, !state.closed { state.link = .up }
        }
    }

    /// The upstream went away: the pump stops taking messages (they wait).
    func linkDown(_ generation: UInt64) {
        state.withLock { state in
            guard state.generation == generation else { return }
            if state.link == .up { state.link = .down }
            state.waker = nil
        }
    }

    /// The upstream stayed away past the grace period: the gateway answers in its place from now on, starting with the
    /// messages waiting for it, and owes it a boot when it is back.
    func goAway(_ generation: UInt64) {
        let answered = state.withLock { state -> [(RelayTicket, Frame)] in
            guard state.generation == generation, state.link == .down, !state.closed else { return [] }
            state.link = .away
            var answered: [(RelayTicket, Frame)] = []
            var index = 0
            while index < state.entries.count {
                guard let ticket = state.entries[index].ticket else {
                    index += 1
                    continue
                }
                let entry = state.entries[index]
                let answer = standInAnswer(entry.call, entry.action, entry.standIn, &state)
                answered.append((ticket, answer.frame))
                if answer.queued {
                    var kept = entry
                    kept.ticket = nil
                    kept.localTransaction = answer.localTransaction
                    keep(&kept, &state)
                    // keep() may have dropped an older entry to make room: find this one again.
                    if let at = state.entries.firstIndex(where: { $0.id == kept.id }) {
                        state.entries[at] = kept
                        index = at + 1
                    }
                } else {
                    state.entries.remove(at: index)
                }
            }
            state.standIn.facts.bootOwed = true
            saveFacts(state)
            return answered
        }
        for (ticket, frame) in answered { ticket.resolve(frame) }
    }

    /// The charger's connection ended: messages waiting for an answer get none (the charger sends them again); kept
    /// messages stay, in memory and in the store, for its next connection.
    func close(_ generation: UInt64) {
        let tickets = state.withLock { state -> [RelayTicket] in
            guard state.generation == generation else { return [] }
            state.closed = true
            if state.link == .up { state.link = .down }
            state.waker = nil
            let tickets = state.entries.compactMap(\.ticket)
            state.entries.removeAll { $0.ticket != nil }
            return tickets
        }
        for ticket in tickets { ticket.resolve(nil) }
    }
}
