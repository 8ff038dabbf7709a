import Foundation
import Logging
import OCPP

/// One station's link to its charger: the current connection and the CALLs the central system sends it.
///
/// The session outlives connections: when the charger reconnects, the new connection is attached to the
/// same session. Every waiting caller is resumed exactly once: with the answer, a CALLERROR, a timeout, or
/// a connection error.
actor StationSession {
    let station: String
    private let callTimeout: Duration
    private let logger: Logger
    private var connection: (any OCPPConnection)?
    private var queue = CallQueue()
    private var waiters: [String: CheckedContinuation<Result<RawJSON, CommandError>, Never>] = [:]
    private var timers: [String: Task<Void, Never>] = [:]

    init(station: String, callTimeout: Duration, logger: Logger) {
        self.station = station
        self.callTimeout = callTimeout
        self.logger = logger
    }

    var isConnected: Bool { connection != nil }

    /// Makes `connection` the station's connection; returns the one it replaces, if any.
    func attach(_ connection: any OCPPConnection) -> (any OCPPConnection)? {
        let previous = self.connection
        self.connection = connection
        if previous != nil, let outstanding = queue.outstanding {
            // The old socket will never see the answer; the waiting calls go to the new connection.
            finish(outstanding.messageID, with: .failure(CommandError(.connectionLost, "connection replaced before the charger answered")))
        }
        return previous
    }

    /// Detaches `connection` if it is still the current one; returns whether it was.
    func detach(_ connection: any OCPPConnection) -> Bool {
        guard self.connection === connection else { return false }
        self.connection = nil
        let outstandingID = queue.outstanding?.messageID
        for entry in queue.drain() {
            let error = entry.messageID == outstandingID
                ? CommandError(.connectionLost, "connection closed before the charger answered")
                : CommandError.notConnected(station)
            resume(entry.messageID, with: .failure(error))
        }
        return true
    }

    /// Sends a CALL and waits for its answer.
    func call(action: String, payload: RawJSON) async -> Result<RawJSON, CommandError> {
        guard connection != nil else { return .failure(.notConnected(station)) }
        let entry = CallQueue.Entry(messageID: UUID().uuidString.lowercased(), action: action, payload: payload)
        return await withCheckedContinuation { continuation in
            waiters[entry.messageID] = continuation
            if let now = queue.submit(entry) {
                transmit(now)
            }
        }
    }

    /// Handles a CALLRESULT or CALLERROR from the charger.
    func receive(_ frame: Frame) {
        let result: Result<RawJSON, CommandError>
        switch frame {
        case .callResult(let answer):
            result = .success(answer.payload)
        case .callError(let error):
            result = .failure(CommandError(.callError, "\(error.code): \(error.description)", callError: error))
        case .call:
            return
        }
        guard queue.outstanding?.messageID == frame.messageID else {
            logger.warning("Answer to an unknown or expired CALL ignored", metadata: ["ocpp.message_id": "\(frame.messageID)"])
            return
        }
        finish(frame.messageID, with: result)
    }

    /// Ends the outstanding call and sends the next.
    private func finish(_ messageID: String, with result: Result<RawJSON, CommandError>) {
        guard let (ended, next) = queue.finish(messageID: messageID) else { return }
        resume(ended.messageID, with: result)
        if let next { transmit(next) }
    }

    private func resume(_ messageID: String, with result: Result<RawJSON, CommandError>) {
        timers.removeValue(forKey: messageID)?.cancel()
        waiters.removeValue(forKey: messageID)?.resume(returning: result)
    }

    /// Writes a call to the charger and arms its timeout.
    private func transmit(_ entry: CallQueue.Entry) {
        guard let connection else {
            finish(entry.messageID, with: .failure(.notConnected(station)))
            return
        }
        let frame = FrameCodec.encode(.call(Call(messageID: entry.messageID, action: entry.action, payload: entry.payload)))
        let timeout = callTimeout
        timers[entry.messageID] = Task { [weak self] in
            do {
                try await connection.send(frame)
            } catch {
                await self?.finish(entry.messageID, with: .failure(CommandError(.connectionLost, "could not send: \(error)")))
                return
            }
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            await self?.timedOut(entry.messageID)
        }
        logger.debug("CALL sent", metadata: ["ocpp.action": "\(entry.action)", "ocpp.message_id": "\(entry.messageID)"])
    }

    private func timedOut(_ messageID: String) {
        timers.removeValue(forKey: messageID)
        logger.warning("CALL timed out", metadata: ["ocpp.message_id": "\(messageID)"])
        finish(messageID, with: .failure(CommandError(.timeout, "no answer within \(callTimeout)")))
    }
}
