import Logging
import OCPPServer
import ServiceLifecycle
import UnixSignals

/// Reloads the chargers' TLS certificate on SIGHUP, and when its files change (checked every `interval`), so a
/// renewed certificate is used by new connections without a restart.
struct CertificateReloader: Service {
    let provider: TLSContextProvider
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
                    reload(because: "SIGHUP")
                }
            }
            group.addTask {
                while (try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }) != nil {
                    if provider.filesChanged { reload(because: "the files changed") }
                }
            }
        }
    }

    private func reload(because reason: String) {
        do {
            try provider.reload()
            logger.info("Reloaded the TLS certificate", metadata: ["tls.reason": "\(reason)"])
        } catch {
            logger.error("Could not reload the TLS certificate; keeping the previous one", metadata: ["error": "\(error)"])
        }
    }
}
