import Metrics

/// Cluster announcements (catalog changes, token revocations, re-listing requests to the leader)
/// that could not be published, and what the periodic reconciliation caught up on:
/// `mcpgateway_cluster_announcement_failures_total` and `mcpgateway_cluster_reconciled_total`, by
/// `kind` (`catalog`, `revocations` or `sync`).
public enum AnnouncementMetrics {
    /// What an announcement or a reconciliation was about.
    public enum Kind: String, Sendable {
        case catalog, revocations, sync
    }

    /// Counts one announcement that was not published (other nodes learn of the change at
    /// their next reconciliation instead).
    public static func failed(_ kind: Kind) {
        Counter(label: "mcpgateway_cluster_announcement_failures_total", dimensions: [("kind", kind.rawValue)])
            .increment()
    }

    /// Counts one reconciliation that found the node behind the store.
    public static func caughtUp(_ kind: Kind) {
        Counter(label: "mcpgateway_cluster_reconciled_total", dimensions: [("kind", kind.rawValue)]).increment()
    }
}
