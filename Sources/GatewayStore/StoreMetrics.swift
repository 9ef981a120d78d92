import GatewayCore
import Metrics

/// Database metrics of one store: each operation's duration (named by the store method that ran
/// it), how long operations waited for a connection, and how many connections are in use of how
/// many the pool may open.
struct StoreMetrics: Sendable {
    let backend: String
    private let operations: MetricCache<String, Timer>
    private let wait: Timer
    private let inUse: Meter

    init(backend: String, poolSize: Int) {
        self.backend = backend
        operations = MetricCache { operation in
            Timer(
                label: "mcpgateway_db_operation_duration_seconds",
                dimensions: [("backend", backend), ("operation", operation)],
                preferredDisplayUnit: .seconds
            )
        }
        wait = Timer(label: "mcpgateway_db_connection_wait_seconds", preferredDisplayUnit: .seconds)
        inUse = Meter(label: "mcpgateway_db_connections_in_use")
        Gauge(label: "mcpgateway_db_pool_size").record(poolSize)
    }

    /// Records one operation; `function` is the store method's `#function`, whose name (without
    /// the argument labels) becomes the `operation` label.
    func recordOperation(_ function: String, since start: ContinuousClock.Instant) {
        let name = function.firstIndex(of: "(").map { String(function[..<$0]) } ?? function
        operations[name].record(duration: start.duration(to: .now))
    }

    /// A connection was handed to an operation after waiting since `start`.
    func connectionLeased(waitingSince start: ContinuousClock.Instant) {
        wait.record(duration: start.duration(to: .now))
        inUse.increment()
    }

    /// The operation gave its connection back.
    func connectionReturned() {
        inUse.decrement()
    }
}
