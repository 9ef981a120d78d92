import GatewayAuth
import Hummingbird
import NIOCore

/// `GET /metrics`: the Prometheus text exposition, for admin tokens and the scrape token.
public struct MetricsRoutes: Sendable {
    /// Renders the current metrics (gauges sampled first).
    let exposition: @Sendable () async -> [UInt8]

    public init(exposition: @escaping @Sendable () async -> [UInt8]) {
        self.exposition = exposition
    }

    public func register(on router: Router<GatewayRequestContext>) {
        router.get("metrics") { _, context -> Response in
            let principal = try context.requirePrincipal()
            guard principal.isAdmin || principal.readsMetricsOnly else {
                throw ProblemError(.forbidden, "Metrics need an admin token or the scrape token (METRICS_BEARER_TOKEN)")
            }
            let bytes = await exposition()
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
            )
        }
    }
}
