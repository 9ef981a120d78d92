import GatewayCore
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Writes the audit log without putting the store on the request path: entries are buffered
/// (bounded, so a flood of refused requests cannot exhaust memory) and appended in batches every
/// second. Entries older than the retention are pruned hourly.
///
/// Refused requests (`auth.failure`, `auth.forbidden`) have a budget of their own: anyone can
/// cause them, from any number of addresses, and a flood of them must not push out the entries
/// that record what operators did (tokens revoked, gateways changed). A batch the store refuses
/// is tried once more; what is lost either way is counted (`mcpgateway_audit_dropped_total`) and
/// logged.
public final class AuditTrail: Service, Sendable {
    package struct Pending {
        var actions: [AuditEntry] = []
        var refusals: [AuditEntry] = []
        var droppedActions = 0
        var droppedRefusals = 0
    }

    package let store: any AuditStore
    package let retention: Duration
    package let logger: Logger
    /// Most entries waiting of each kind (operators' actions, refused requests).
    package let capacity: Int
    private let pending = Mutex(Pending())
    /// Serialises flushes, so entries reach the store in the order they were recorded.
    private let flushing = AsyncMutex()

    public init(store: any AuditStore, retention: Duration, capacity: Int = 10_000, logger: Logger) {
        self.store = store
        self.retention = retention
        self.capacity = capacity
        self.logger = logger
    }

    /// Whether an entry records a refused request rather than something someone did.
    package static func isRefusal(_ entry: AuditEntry) -> Bool {
        entry.action == "auth.failure" || entry.action == "auth.forbidden"
    }

    /// Queues an entry; never waits. Beyond `capacity` waiting entries of its kind, new ones are
    /// counted and dropped.
    public func record(_ entry: AuditEntry) {
        pending.withLock { pending in
            if Self.isRefusal(entry) {
                if pending.refusals.count < capacity {
                    pending.refusals.append(entry)
                } else {
                    pending.droppedRefusals += 1
                }
            } else {
                if pending.actions.count < capacity {
                    pending.actions.append(entry)
                } else {
                    pending.droppedActions += 1
                }
            }
        }
    }

    /// Writes every queued entry now (before the log is read, and at shutdown).
    public func flush() async {
        await flushing.withLock {
            let taken = pending.withLock { pending in
                defer { pending = Pending() }
                return pending
            }
            Self.countDropped(taken.droppedActions, kind: "action", logger: logger)
            Self.countDropped(taken.droppedRefusals, kind: "refusal", logger: logger)
            // In the order they happened (each kind is in order already).
            let entries = (taken.actions + taken.refusals).sorted { $0.at < $1.at }
            guard !entries.isEmpty else { return }
            await write(entries)
        }
    }

    /// Appends a batch, trying once more if the store refuses it.
    package func write(_ entries: [AuditEntry]) async {
        do {
            try await store.appendAudit(entries)
            return
        } catch {
            logger.warning("audit entries not written; trying once more", metadata: ["error": "\(error)"])
        }
        do {
            try await Task.sleep(for: .milliseconds(200))
            try await store.appendAudit(entries)
        } catch {
            Counter(label: "mcpgateway_audit_dropped_total", dimensions: [("reason", "store")])
                .increment(by: entries.count)
            logger.error(
                "audit entries could not be written",
                metadata: ["audit.count": "\(entries.count)", "error": "\(error)"]
            )
        }
    }

    package static func countDropped(_ count: Int, kind: String, logger: Logger) {
        guard count > 0 else { return }
        Counter(label: "mcpgateway_audit_dropped_total", dimensions: [("reason", "queue_full_\(kind)")])
            .increment(by: count)
        logger.warning(
            "audit entries dropped: the queue was full",
            metadata: ["audit.dropped": "\(count)", "audit.kind": "\(kind)"]
        )
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
