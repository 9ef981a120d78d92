import HTTPTypes
import Hummingbird
import Logging

/// Requires a valid bearer token on every route except the liveness and readiness probes.
/// With `AUTH_REQUIRED=false` requests pass as the `anonymous` principal.
public struct BearerAuthMiddleware<Context: AuthenticatedRequestContext>: RouterMiddleware {
    let authority: TokenAuthority
    let required: Bool

    public init(authority: TokenAuthority, required: Bool) {
        self.authority = authority
        self.required = required
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if BearerAuth.openPaths.contains(request.uri.path) { return try await next(request, context) }
        var context = context
        guard required else {
            context.principal = Principal(subject: "anonymous")
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization], ASCIICaseInsensitive.hasPrefix(header, "bearer ") else {
            throw unauthorized("A bearer token is required")
        }
        do {
            context.principal = try await authority.authenticate(String(header.dropFirst(7)))
        } catch {
            context.logger.info("authentication failed", metadata: ["auth.reason": .string(error.message)])
            throw unauthorized("Invalid token: \(error.message)")
        }
        return try await next(request, context)
    }

    func unauthorized(_ detail: String) -> ProblemError { BearerAuth.unauthorized(detail) }
}

/// What every instance of ``BearerAuthMiddleware`` shares.
enum BearerAuth {
    /// Paths that need no token: the liveness and readiness probes.
    static let openPaths: Set<String> = ["/health", "/ready", "/v1/health", "/v1/ready"]

    static func unauthorized(_ detail: String) -> ProblemError {
        var problem = ProblemError(.unauthorized, detail)
        problem.headers[.wwwAuthenticate] = "Bearer"
        return problem
    }
}
