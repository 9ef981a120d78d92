import GatewayAuth
import GatewayCore
import GatewayHTTPFraming
import HTTPTypes
import Hummingbird
import Logging

/// Requires a valid bearer token on every route except the liveness and readiness probes, and
/// keeps server-scoped tokens on their server's MCP endpoints. Refusals are audited.
/// With `AUTH_REQUIRED=false` requests pass as the `anonymous` principal. The static scrape token,
/// when configured, is accepted on `GET /metrics` only.
public struct BearerAuthMiddleware<Context: AuthenticatedRequestContext>: RouterMiddleware {
    let authority: TokenAuthority
    let required: Bool
    let audit: AuditTrail?
    let scrapeToken: ScrapeToken?
    /// Checks identity assertions of a trusted federating gateway; without it they are ignored.
    let identities: IdentityVerifier?

    public init(
        authority: TokenAuthority,
        required: Bool,
        audit: AuditTrail? = nil,
        scrapeToken: ScrapeToken? = nil,
        identities: IdentityVerifier? = nil
    ) {
        self.authority = authority
        self.required = required
        self.audit = audit
        self.scrapeToken = scrapeToken
        self.identities = identities
    }

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if BearerAuth.openPaths.contains(request.uri.path) { return try await next(request, context) }
        var context = context
        let header = request.headers[.authorization]
        let token = header.flatMap { ASCIICaseInsensitive.hasPrefix($0, "bearer ") ? $0.dropFirst(7) : nil }
        // Before the AUTH_REQUIRED check: a scrape job presents the token either way.
        if let scrapeToken, let token, request.method == .get, request.uri.path == ScrapeToken.path,
            scrapeToken.matches(token)
        {
            context.principal = .metricsScraper
            return try await next(request, context)
        }
        guard required else {
            context.principal = Principal(subject: "anonymous")
            return try await next(request, context)
        }
        guard let token else {
            refused(request, context, reason: "no bearer token")
            throw BearerAuth.unauthorized("A bearer token is required")
        }
        var principal: Principal
        do {
            principal = try await authority.authenticate(String(token))
        } catch {
            context.logger.info("authentication failed", metadata: ["auth.reason": .string(error.message)])
            refused(request, context, reason: error.message)
            throw BearerAuth.unauthorized("Invalid token: \(error.message)")
        }
        if let server = principal.serverScope, !BearerAuth.isWithinScope(request.uri.path, server: server) {
            refused(
                request,
                context,
                reason: "outside the token's server scope",
                actor: principal.subject,
                action: "auth.forbidden"
            )
            throw ProblemError(.forbidden, "This token may only reach the MCP endpoints of server \(server)")
        }
        if let identities, let assertion = request.headers[BearerAuth.identityHeader], let header,
            BearerAuth.isMCPEndpoint(request.uri.path)
        {
            do {
                let (caller, gateway) = try await identities.verify(assertion, credential: header)
                principal.onBehalfOf = caller
                principal.assertedBy = gateway
                context.logger[metadataKey: "auth.on_behalf_of"] = .string(principal.accountable)
            } catch {
                refused(request, context, reason: error.message, actor: principal.subject)
                throw BearerAuth.unauthorized("Invalid identity assertion: \(error.message)")
            }
        }
        context.principal = principal
        return try await next(request, context)
    }

    func refused(
        _ request: Request,
        _ context: Context,
        reason: String,
        actor: String = "anonymous",
        action: String = "auth.failure"
    ) {
        audit?.record(
            AuditEntry(
                at: .now(),
                actor: actor,
                action: action,
                targetType: "route",
                targetID: request.uri.path,
                outcome: "failure",
                clientIP: context.peerIP,
                detail: ["reason": .string(reason)]
            )
        )
    }
}

/// What every instance of ``BearerAuthMiddleware`` shares.
enum BearerAuth {
    /// Paths that need no token: the liveness and readiness probes.
    static let openPaths: Set<String> = ["/health", "/ready", "/v1/health", "/v1/ready"]
    static let identityHeader = HTTPField.Name(Federation.identityHeader)!

    /// The endpoints a token scoped to `server` may use: that server's MCP transports.
    static func isWithinScope(_ path: String, server: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count == 3, parts[0] == "servers", parts[1] == server else { return false }
        return ["mcp", "sse", "message", "ws"].contains(parts[2])
    }

    /// The MCP endpoints, where identity assertions are honoured (attribution of calls; never
    /// on the REST API, whose audit names the token's subject).
    static func isMCPEndpoint(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard let last = parts.last else { return false }
        switch parts.count {
        case 1: return ["mcp", "rpc", "sse", "message", "ws"].contains(last)
        case 3: return parts[0] == "servers" && ["mcp", "sse", "message", "ws"].contains(last)
        default: return false
        }
    }

    static func unauthorized(_ detail: String) -> ProblemError {
        var problem = ProblemError(.unauthorized, detail)
        problem.headers[.wwwAuthenticate] = "Bearer"
        return problem
    }
}
