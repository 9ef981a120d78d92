import NIOHTTP1
import Tracing

/// Writes the current span's trace context (`traceparent`, `tracestate`) into upstream request
/// headers, through whatever instrument the process bootstrapped.
struct HTTPHeadersInjector: Injector {
    func inject(_ value: String, forKey key: String, into headers: inout HTTPHeaders) {
        headers.replaceOrAdd(name: key, value: value)
    }
}

extension HTTPHeaders {
    /// Adds the trace context of the task's current span, if there is one.
    mutating func addTraceContext() {
        guard let context = InstrumentationContext.current else { return }
        InstrumentationSystem.instrument.inject(context, into: &self, using: HTTPHeadersInjector())
    }
}
