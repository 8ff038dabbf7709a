import Logging
import ServiceLifecycle
import Store

/// Checkpoints the store every five minutes (and once more when the gateway stops), so `gateway.sqlite3` alone holds
/// the state: a backup or a copy of just that file, without its `-wal`, misses at most the last few minutes.
struct StoreCheckpoints: Service {
    let store: SQLiteStore
    let logger: Logger
    var interval: Duration = .seconds(300)

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            while (try? await Task.sleep(for: interval)) != nil {
                Self.checkpoint(store, logger: logger)
            }
        }
    }

    static func checkpoint(_ store: SQLiteStore, logger: Logger) {
        do {
            try store.checkpoint()
        } catch {
            logger.warning("Cannot checkpoint the store; its write-ahead log keeps the changes meanwhile", metadata: ["error": "\(error)"])
        }
    }
}
