import HTTPTypes
import Hummingbird
import Tracing

/// Continues a client's W3C trace: when a request carries `traceparent`, the bootstrapped tracer
/// extracts it and the request runs inside a server span of that trace, so upstream calls made
/// for it carry the trace on (see ``TraceContextPropagator``). A request without `traceparent`
/// pays nothing and propagates nothing.
///
/// Hummingbird's `TracingMiddleware` starts a span, with a dozen attributes, for every request;
/// with no exporter in the build those attributes are thrown away, and on this hot path they cost
/// more than the rest of the tracing together. With an exporting tracer (swift-otel), use it
/// instead.
public struct TraceContextMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard request.headers[.traceparent] != nil else { return try await next(request, context) }
        var trace = InstrumentationContext.current ?? .topLevel
        InstrumentationSystem.instrument.extract(request.headers, into: &trace, using: HTTPFieldsExtractor())
        return try await withSpan("HTTP \(request.method.rawValue)", context: trace, ofKind: .server) { _ in
            try await next(request, context)
        }
    }
}

/// Reads trace context headers from a request.
struct HTTPFieldsExtractor: Extractor {
    func extract(key: String, from fields: HTTPFields) -> String? {
        HTTPField.Name(key).flatMap { fields[$0] }
    }
}

extension HTTPField.Name {
    static let traceparent = Self("traceparent")!
}
