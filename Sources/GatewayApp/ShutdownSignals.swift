#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The one owner of SIGTERM and SIGINT: the first starts a graceful shutdown, a second ends the process at once
/// (exit status 130).
///
/// A plain `sigaction` handler writes each signal's number to a pipe (the only thing it does, which is safe in a
/// handler on whichever thread the kernel picks); a thread of its own reads the pipe and acts, so a signal is
/// handled even when every other thread is busy. Before, Dispatch signal sources (swift-service-lifecycle's and the
/// gateway's own, on the same signals) saw them, and a second signal was missed now and then, without a trace.
///
/// A signal that comes while the gateway is still starting (opening the store, say) is not lost: the shutdown
/// starts as soon as the services do.
final class ShutdownSignals: Sendable {
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var received = 0
        var group: ServiceGroup?
    }

    /// Where the handler writes; set once, before the handler is installed.
    nonisolated(unsafe) private static var pipeInput: Int32 = -1

    /// Installs the handler and starts the reader. Call once, before the services start.
    static func install(logger: Logger) -> ShutdownSignals {
        let signals = ShutdownSignals(logger: logger)
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else {
            // Without a pipe the default dispositions stay: a signal ends the process at once, as a kill would.
            logger.error("Cannot watch for shutdown signals; SIGTERM and SIGINT end the process at once",
                         metadata: ["error": "\(String(cString: strerror(errno)))"])
            return signals
        }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        pipeInput = ends[1]
        let output = ends[0]
        let reader = Thread { signals.read(from: output) }
        reader.name = "ocpp-gateway.signals"
        reader.start()
        var action = sigaction()
        #if canImport(Glibc)
        action.__sigaction_handler.sa_handler = forward
        #else
        action.__sigaction_u.__sa_handler = forward
        #endif
        action.sa_flags = SA_RESTART
        sigemptyset(&action.sa_mask)
        for number in [SIGTERM, SIGINT] { sigaction(number, &action, nil) }
        return signals
    }

    /// The handler: the signal's number to the pipe, nothing else (`errno` kept as it was).
    private static let forward: @convention(c) (Int32) -> Void = { number in
        let saved = errno
        var byte = UInt8(truncatingIfNeeded: number)
        _ = write(ShutdownSignals.pipeInput, &byte, 1)
        errno = saved
    }

    private init(logger: Logger) {
        self.logger = logger
    }

    /// The services to shut down. If a signal came before, their shutdown starts now.
    func attach(_ group: ServiceGroup) {
        let signalled = state.withLock { state in
            state.group = group
            return state.received > 0
        }
        if signalled { Task { await group.triggerGracefulShutdown() } }
    }

    private func read(from descriptor: Int32) {
        while true {
            var byte: UInt8 = 0
            let count = readByte(descriptor, &byte)
            if count < 0 && errno == EINTR { continue }
            guard count == 1 else { return }
            received(signal: Int32(byte))
        }
    }

    private func readByte(_ descriptor: Int32, _ byte: inout UInt8) -> Int {
        #if canImport(Glibc)
        Glibc.read(descriptor, &byte, 1)
        #else
        Darwin.read(descriptor, &byte, 1)
        #endif
    }

    private func received(signal number: Int32) {
        let (count, group) = state.withLock { state in
            state.received += 1
            return (state.received, state.group)
        }
        guard count == 1 else {
            logger.warning("Second signal: exiting at once", metadata: ["signal": "\(number)"])
            // `_exit`, not `exit`: atexit handlers and stream flushes would run while the event loops and tasks still
            // do, which is not safe against them. The log line is written unbuffered; what the store holds is as
            // safe as with a kill.
            _exit(130)
        }
        logger.info("Shutdown signal received; a second one ends the process at once", metadata: ["signal": "\(number)"])
        if let group { Task { await group.triggerGracefulShutdown() } }
    }
}
