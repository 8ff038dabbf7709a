import OCPP

/// One station's outgoing CALLs: at most one outstanding, the rest waiting in order (OCPP-J 1.6 section 4.1.1).
///
/// Pure state: each method says what to do next, and ``StationSession`` does it.
struct CallQueue: Sendable {
    struct Entry: Sendable, Hashable {
        var messageID: String
        var action: String
        var payload: RawJSON
    }

    private(set) var outstanding: Entry?
    private(set) var waiting: [Entry] = []

    /// Adds a call; returns it if it is to be sent now.
    mutating func submit(_ entry: Entry) -> Entry? {
        guard outstanding == nil else {
            waiting.append(entry)
            return nil
        }
        outstanding = entry
        return entry
    }

    /// The outstanding call with `messageID` has ended (answered, timed out or failed to send).
    /// Returns `nil` if that is not the outstanding call (a late or unknown answer); otherwise the
    /// ended call and the next one to send.
    mutating func finish(messageID: String) -> (ended: Entry, next: Entry?)? {
        guard let current = outstanding, current.messageID == messageID else { return nil }
        outstanding = waiting.isEmpty ? nil : waiting.removeFirst()
        return (current, outstanding)
    }

    /// The connection is gone: every call ends.
    mutating func drain() -> [Entry] {
        let all = (outstanding.map { [$0] } ?? []) + waiting
        outstanding = nil
        waiting = []
        return all
    }
}
