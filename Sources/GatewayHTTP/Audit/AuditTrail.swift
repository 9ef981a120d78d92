import GatewayCore
import Logging
import ServiceLifecycle
import Synchronization

/// Writes the audit log without putting the store on the request path: entries are buffered
/// (bounded, so a flood of refused requests cannot exhaust memory) and appended in batches every
/// second. Entries older than the retention are pruned hourly.
public final class AuditTrail: Service, Sendable {
    let store: any AuditStore
    let retention: Duration
    let logger: Logger
    let capacity: Int
    private let pending = Mutex<(entries: [AuditEntry], dropped: Int)>(([], 0))
    /// Serialises flushes, so entries reach the store in the order they were recorded.
    private let flushing = AsyncMutex()

    public init(store: any AuditStore, retention: Duration, capacity: Int = 10_000, logger: Logger) {
        self.store = store
        self.retention = retention
        self.capacity = capacity
        self.logger = logger
    }

    /// Queues an entry; never waits. Beyond `capacity` waiting entries, new ones are counted and dropped.
    public func record(_ entry: AuditEntry) {
        pending.withLock { pending in
            if pending.entries.count < capacity {
                pending.entries.append(entry)
            } else {
                pending.dropped += 1
            }
        }
    }

    /// Writes every queued entry now (before the log is read, and at shutdown).
    public func flush() async {
        await flushing.withLock {
            let (entries, dropped) = pending.withLock { pending in
                defer { pending = ([], 0) }
                return pending
            }
            if dropped > 0 {
                logger.warning("audit entries dropped: the queue was full", metadata: ["audit.dropped": "\(dropped)"])
            }
            guard !entries.isEmpty else { return }
            do {
                try await store.appendAudit(entries)
            } catch {
                logger.error(
                    "audit entries could not be written",
                    metadata: ["audit.count": "\(entries.count)", "error": "\(error)"]
                )
            }
        }
    }

    public func run() async throws {
        var lastPrune = ContinuousClock.now - .seconds(3600)
        while !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            await flush()
            if ContinuousClock.now - lastPrune >= .seconds(3600) {
                lastPrune = .now
                let cutoff = Timestamp(
                    millisecondsSince1970: Timestamp.now().millisecondsSince1970 - Int64(retention.components.seconds)
                        * 1000
                )
                do {
                    let removed = try await store.pruneAudit(before: cutoff)
                    if removed > 0 { logger.info("audit log pruned", metadata: ["audit.removed": "\(removed)"]) }
                } catch {
                    logger.warning("audit log could not be pruned", metadata: ["error": "\(error)"])
                }
            }
        }
        await flush()
    }
}
