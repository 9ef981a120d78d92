import Tracing
import W3CTraceContext

/// Where a request's W3C trace context lives in its instrumentation context.
public enum TraceContextKey: InstrumentationContextKey {
    public typealias Value = TraceContext
    public static var nameOverride: String? { "w3c-trace-context" }
}

extension InstrumentationContext {
    /// The W3C trace context of the current span, if any.
    public var traceContext: TraceContext? {
        get { self[TraceContextKey.self] }
        set { self[TraceContextKey.self] = newValue }
    }
}

/// A tracer that propagates W3C trace context and exports nothing: a client's `traceparent` is
/// continued, each span (Hummingbird's per request, the upstream client's per forwarded call) gets
/// a fresh span id in the same trace, and upstream requests carry `traceparent` and `tracestate`
/// naming the gateway's span as their parent. A request without `traceparent` starts a trace
/// that is not sampled (nothing here records it).
///
/// It is the seam for an exporter: bootstrapping swift-otel's tracer in its place (which extracts
/// and injects the same headers) exports these spans over OTLP with no other change.
public struct TraceContextPropagator: Tracer {
    public typealias Span = PropagatingSpan

    public init() {}

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String,
        context: @autoclosure () -> InstrumentationContext,
        ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant,
        function: String,
        file fileID: String,
        line: UInt
    ) -> PropagatingSpan {
        var context = context()
        let parent = context.traceContext
        context.traceContext = TraceContext(
            traceID: parent?.traceID ?? .random(),
            spanID: .random(),
            flags: parent?.flags ?? [],
            state: parent?.state ?? TraceState()
        )
        return PropagatingSpan(context: context)
    }

    public func forceFlush() {}

    public func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier,
        into context: inout InstrumentationContext,
        using extractor: Extract
    ) where Extract.Carrier == Carrier {
        guard let parent = extractor.extract(key: "traceparent", from: carrier) else { return }
        // A malformed header starts a new trace rather than failing the request.
        context.traceContext = try? TraceContext(
            traceParentHeaderValue: parent,
            traceStateHeaderValue: extractor.extract(key: "tracestate", from: carrier)
        )
    }

    public func inject<Carrier, Inject: Injector>(
        _ context: InstrumentationContext,
        into carrier: inout Carrier,
        using injector: Inject
    ) where Inject.Carrier == Carrier {
        guard let trace = context.traceContext else { return }
        injector.inject(trace.traceParentHeaderValue, forKey: "traceparent", into: &carrier)
        if let state = trace.traceStateHeaderValue {
            injector.inject(state, forKey: "tracestate", into: &carrier)
        }
    }
}

/// A span that carries its trace context and records nothing.
public struct PropagatingSpan: Tracing.Span {
    public let context: InstrumentationContext
    public var isRecording: Bool { false }

    public var operationName: String {
        get { "" }
        nonmutating set {}
    }

    public var attributes: SpanAttributes {
        get { [:] }
        nonmutating set {}
    }

    public func setStatus(_ status: SpanStatus) {}
    public func addLink(_ link: SpanLink) {}
    public func addEvent(_ event: SpanEvent) {}
    public func recordError<Instant: TracerInstant>(
        _ error: any Error,
        attributes: SpanAttributes,
        at instant: @autoclosure () -> Instant
    ) {}
    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {}
}
