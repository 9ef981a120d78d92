import GatewayAuth
import GatewayHTTPFraming
import Hummingbird
import Synchronization

/// Caps the requests one token subject has open at once (MAX_CONCURRENT_REQUESTS_PER_CLIENT):
/// calls in flight and open streams alike; one more gets 429. A slot is held until the response
/// has been written — for a stream, until it ends — and is released even when the response is
/// never written (the lease is released when the response is dropped).
public struct ConcurrencyLimitMiddleware<Context: AuthenticatedRequestContext>: RouterMiddleware {
    let slots: ClientSlots

    /// - Parameter slots: shared with WebSocket connections, which count against the same limit.
    public init(slots: ClientSlots) {
        self.slots = slots
    }

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let subject = context.principal?.subject else { return try await next(request, context) }
        guard let lease = slots.acquire(subject) else {
            var problem = ProblemError(
                .tooManyRequests,
                "Too many concurrent requests: at most \(slots.limit) open at once per client"
            )
            problem.headers[.retryAfter] = "1"
            throw problem
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            lease.run()
            throw error
        }
        let body = response.body
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            defer { lease.run() }
            try await body.write(writer)
        }
        return response
    }
}
