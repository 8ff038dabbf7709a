import CentralSystem
import Foundation
import Logging
import OCPP
import Synchronization
import TestSupport

/// An in-memory connection that records what the central system sends and lets a test answer it.
final class FakeConnection: OCPPConnection {
    private let state = Mutex<(sent: [Data], closed: DisconnectReason?, waiters: [(Int, CheckedContinuation<Void, Never>)])>(([], nil, []))

    func send(_ frame: Data) async throws {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.sent.append(frame)
            let count = state.sent.count
            let ready = state.waiters.filter { $0.0 <= count }.map(\.1)
            state.waiters.removeAll { $0.0 <= count }
            return ready
        }
        ready.forEach { $0.resume() }
    }

    /// Like the WebSocket connection, the first cause stays: a connection closing already ends for that.
    func close(because reason: DisconnectReason) async -> DisconnectReason {
        state.withLock { state in
            if state.closed == nil { state.closed = reason }
            return state.closed!
        }
    }

    var closed: DisconnectReason? { state.withLock { $0.closed } }
    var sent: [Data] { state.withLock { $0.sent } }

    /// Waits until at least `count` frames were sent (no polling: the send resumes the waiter).
    func waitForSent(_ count: Int) async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                if state.sent.count >= count { return true }
                state.waiters.append((count, continuation))
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// The CALL sent as frame number `index`.
    func call(_ index: Int) throws -> Call {
        guard case .call(let call) = try FrameCodec.decode(sent[index]) else { throw TestFailure("frame \(index) is not a CALL") }
        return call
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A clock a test sets by hand.
final class ManualTime: Sendable {
    private let value = Mutex(Date(timeIntervalSince1970: 1_795_269_090))
    var now: Date { value.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { value.withLock { $0 += seconds } }
}

extension CentralSystem {
    static func make(
        _ configuration: CentralSystemConfiguration = CentralSystemConfiguration(authorizedTags: ["TAG-1", "tag-2"]),
        store: any StateStore = InMemoryStateStore(), time: ManualTime = ManualTime()
    ) throws -> CentralSystem {
        try CentralSystem(configuration: configuration, store: store, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), now: { time.now })
    }

    /// Sends a CALL as `link`'s charger and returns the decoded answer.
    func exchange(_ text: String, on link: Link) async throws -> Frame {
        guard let reply = await receive(Array(text.utf8), on: link) else { throw TestFailure("no reply to \(text)") }
        return try FrameCodec.decode(reply)
    }

    /// Sends a typed request as `link`'s charger and decodes the typed answer.
    func request<R: OCPPRequest>(_ request: R, on link: Link, id: String = "m1") async throws -> R.Response {
        let call = Frame.call(Call(messageID: id, action: R.action.rawValue, payload: try PayloadCoding.encode(request)))
        let reply = try await exchange(String(decoding: FrameCodec.encode(call), as: UTF8.self), on: link)
        guard case .callResult(let result) = reply else { throw TestFailure("expected a CALLRESULT, got \(reply)") }
        return try PayloadCoding.decode(R.Response.self, from: result.payload)
    }

    func connect(_ station: String, _ connection: FakeConnection = FakeConnection()) async -> Link {
        await attach(station: station, connection: connection, info: ConnectionInfo(remoteAddress: "test", subprotocol: "ocpp1.6"))
    }
}

let someDate = Date(timeIntervalSince1970: 1_795_269_000)

/// Collects events until `count` arrived (bounded: the test's own time limit ends a missing one).
func collect(_ count: Int, from stream: AsyncStream<CentralSystemEvent>) async -> [CentralSystemEvent] {
    var events: [CentralSystemEvent] = []
    for await event in stream {
        events.append(event)
        if events.count == count { break }
    }
    return events
}

/// Collects the events of charger messages until `count` arrived, skipping connections coming and going (a new
/// station is announced with its first message).
func collectMessages(_ count: Int, from stream: AsyncStream<CentralSystemEvent>) async -> [CentralSystemEvent] {
    var events: [CentralSystemEvent] = []
    for await event in stream {
        guard case .message = event else { continue }
        events.append(event)
        if events.count == count { break }
    }
    return events
}

extension InMemoryStateStore {
    /// A store that knows `stations` (booted before), so they are announced as soon as they connect.
    static func knowing(_ stations: [String]) throws -> InMemoryStateStore {
        let store = InMemoryStateStore()
        try store.save(PersistedState(stations: Dictionary(uniqueKeysWithValues: stations.map {
            ($0, StationRecord(boot: BootFacts(vendor: "V", model: "M")))
        })))
        return store
    }
}
