import HTTPTypes
import Hummingbird

/// CORS for an explicit list of origins (CORS_ALLOWED_ORIGINS; none by default, so browsers on
/// other origins are refused by their own same-origin rule). A preflight from a listed origin
/// is answered here, before authentication (preflights carry no token); any other request from
/// a listed origin gets `Access-Control-Allow-Origin` for exactly that origin. Credentials
/// (cookies) are never allowed: the gateway authenticates with bearer tokens.
///
/// Written here rather than with Hummingbird's `CORSMiddleware`, whose origin list is variadic
/// only and cannot be built from configuration.
public struct CORSAllowListMiddleware<Context: RequestContext>: RouterMiddleware {
    let origins: Set<String>

    static var allowedMethods: String { "GET, POST, PUT, DELETE, OPTIONS" }
    static var allowedHeaders: String {
        "Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID"
    }
    static var exposedHeaders: String {
        "Mcp-Session-Id, WWW-Authenticate, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
    }

    public init(origins: Set<String>) {
        self.origins = origins
    }

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let origin = request.headers[.origin], origins.contains(origin) else {
            return try await next(request, context)
        }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            return Response(
                status: .noContent,
                headers: [
                    .accessControlAllowOrigin: origin, .accessControlAllowMethods: Self.allowedMethods,
                    .accessControlAllowHeaders: Self.allowedHeaders, .accessControlMaxAge: "600", .vary: "Origin",
                ]
            )
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlExposeHeaders] = Self.exposedHeaders
        response.headers[values: .vary].append("Origin")
        return response
    }
}
