import Metrics
import Prometheus

/// swift-metrics backed by a Prometheus registry: every metric the gateway, Hummingbird and the
/// stores record lands in ``registry``, which `GET /metrics` renders.
public struct PrometheusMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    /// Installs the registry as swift-metrics' backend. Once per process, before the gateway is
    /// built (metric handles made earlier stay no-ops).
    public static func bootstrap() -> PrometheusMetrics {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = durationBuckets
        factory.nameAndLabelSanitizer = { name, labels in
            (hummingbirdNames[name] ?? name, labels.map { (hummingbirdLabels[$0.0] ?? $0.0, $0.1) })
        }
        MetricsSystem.bootstrap(factory)
        return PrometheusMetrics(registry: registry)
    }

    /// The text exposition.
    public func render() -> [UInt8] { registry.emitToBuffer() }

    /// From 0.5 ms (a call the gateway answers itself) to a minute (TOOL_TIMEOUT's default).
    static let durationBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .microseconds(2_500_000), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]

    /// Hummingbird's `MetricsMiddleware` names, in the gateway's namespace and Prometheus' style.
    static let hummingbirdNames = [
        "hb.requests": "mcpgateway_http_requests_total",
        "http.server.request.duration": "mcpgateway_http_request_duration_seconds",
        "hb.request.errors": "mcpgateway_http_request_errors_total",
        "http.server.active_requests": "mcpgateway_http_active_requests",
    ]

    static let hummingbirdLabels = [
        "http.route": "route",
        "http.request.method": "method",
        "http.response.status_code": "status",
        "error.type": "status",
    ]
}
