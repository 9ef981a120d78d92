import Hummingbird
import Synchronization

/// Caps the requests one token subject has open at once (MAX_CONCURRENT_REQUESTS_PER_CLIENT):
/// calls in flight and open streams alike; one more gets 429. A slot is held until the response
/// has been written — for a stream, until it ends — and is released even when the response is
/// never written (the lease is released when the response is dropped).
public struct ConcurrencyLimitMiddleware<Context: AuthenticatedRequestContext>: RouterMiddleware {
    let limit: Int
    let counts = OpenRequests()

    /// Open requests per subject (a class: the middleware is copied, the counts are shared).
    final class OpenRequests: Sendable {
        let bySubject = Mutex<[String: Int]>([:])
    }

    public init(limit: Int) {
        self.limit = limit
    }

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let subject = context.principal?.subject else { return try await next(request, context) }
        let admitted = counts.bySubject.withLock { counts in
            let open = counts[subject, default: 0]
            guard open < limit else { return false }
            counts[subject] = open + 1
            return true
        }
        guard admitted else {
            var problem = ProblemError(
                .tooManyRequests,
                "Too many concurrent requests: at most \(limit) open at once per client"
            )
            problem.headers[.retryAfter] = "1"
            throw problem
        }
        let counts = self.counts
        let lease = ResponseCleanup { _ in
            counts.bySubject.withLock { counts in
                let left = (counts[subject] ?? 1) - 1
                counts[subject] = left > 0 ? left : nil
            }
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
