import GatewayHTTP
import Tracing

/// Installs the W3C trace-context propagator for the process (once, before the application
/// runs): incoming `traceparent` headers are continued and passed to upstreams.
public func bootstrapTraceContext() {
    InstrumentationSystem.bootstrap(TraceContextPropagator())
}
