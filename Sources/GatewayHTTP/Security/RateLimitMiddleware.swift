import Foundation
import GatewayAuth
import GatewayCore
import HTTPTypes
import Hummingbird
import Metrics
import NIOCore

/// Request limits per minute, by tier of route, for one kind of caller.
public struct RateLimits: Sendable {
    /// MCP traffic (`/mcp`, `/servers/{id}/mcp`, `/sse`, `/message`, `/rpc`, `/ws`).
    public var mcpPerMinute = 3000
    /// REST reads (GET, HEAD).
    public var readPerMinute = 1200
    /// REST writes (POST, PUT, PATCH, DELETE).
    public var writePerMinute = 300
    /// Every request from one client address, before authentication.
    public var perAddressPerMinute = 6000

    public init() {}

    enum Tier: String { case mcp, read, write }

    static func tier(of request: Request) -> Tier {
        let path = request.uri.path
        let last = path.split(separator: "/").last ?? ""
        if ["mcp", "sse", "message", "rpc", "ws"].contains(last) { return .mcp }
        return request.method == .get || request.method == .head ? .read : .write
    }

    func limit(_ tier: Tier) -> Int {
        switch tier {
        case .mcp: mcpPerMinute
        case .read: readPerMinute
        case .write: writePerMinute
        }
    }
}

/// The address a request came from: the socket peer, or — only when the peer is a trusted
/// proxy (TRUSTED_PROXIES) — the right-most `X-Forwarded-For` entry that is not one, so a
/// client cannot pick its own address by sending the header.
public struct ClientAddressResolver: Sendable {
    public let trustedProxies: [IPNetwork]

    public init(trustedProxies: [IPNetwork]) {
        self.trustedProxies = trustedProxies
    }

    func isTrusted(_ text: String) -> Bool {
        guard let address = IPAddress(text) else { return false }
        return trustedProxies.contains { $0.contains(address) }
    }

    public func address(of request: Request, peer: String?) -> String {
        guard let peer else { return "unknown" }
        guard !trustedProxies.isEmpty, isTrusted(peer) else { return peer }
        let hops = request.headers[values: .xForwardedFor].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        // The nearest hop that is not a trusted proxy was written by one, so it is the client.
        for hop in hops.reversed() where !isTrusted(hop) {
            return IPAddress(hop) != nil ? hop : peer
        }
        return peer
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
    static let xRateLimitLimit = Self("X-RateLimit-Limit")!
    static let xRateLimitRemaining = Self("X-RateLimit-Remaining")!
    static let xRateLimitReset = Self("X-RateLimit-Reset")!
}

/// Answers 429 (problem JSON, `Retry-After`, `X-RateLimit-*`) once a caller has used its
/// requests of the minute. `.address` runs before authentication (every request of an address);
/// `.client` after it (per token subject and tier of route, and it adds `X-RateLimit-*` to answers).
public struct RateLimitMiddleware<Context: AuthenticatedRequestContext>: RouterMiddleware {
    public enum Scope: Sendable { case address, client }

    let scope: Scope
    let limits: RateLimits
    let counter: any RateCounter
    let resolver: ClientAddressResolver
    /// `mcpgateway_rate_limit_rejections_total{tier="address"|"subject"}`.
    let rejections: Counter

    public init(scope: Scope, limits: RateLimits, counter: any RateCounter, resolver: ClientAddressResolver) {
        self.scope = scope
        self.limits = limits
        self.counter = counter
        self.resolver = resolver
        self.rejections = Counter(
            label: "mcpgateway_rate_limit_rejections_total",
            dimensions: [("tier", scope == .address ? "address" : "subject")]
        )
    }

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if BearerAuth.openPaths.contains(request.uri.path) { return try await next(request, context) }
        let key: String
        let limit: Int
        switch scope {
        case .address:
            let address = resolver.address(of: request, peer: context.peerIP)
            // IPv6 clients are counted per /64 (they may hold one and rotate through it).
            key = "ip:" + (address.contains(":") ? IPAddress(address)?.clientBucket ?? address : address)
            limit = limits.perAddressPerMinute
        case .client:
            let tier = RateLimits.tier(of: request)
            key = "client:\(tier.rawValue):" + (context.principal?.accountable ?? "anonymous")
            limit = limits.limit(tier)
        }
        let (count, resetIn) = try await counter.hit(key, window: .seconds(60))
        let resetSeconds = max(1, (resetIn + 999) / 1000)
        guard count <= limit else {
            rejections.increment()
            var problem = ProblemError(
                .tooManyRequests,
                "Rate limit exceeded: \(limit) requests per minute; retry in \(resetSeconds) s"
            )
            problem.headers[.retryAfter] = String(resetSeconds)
            problem.headers[.xRateLimitLimit] = String(limit)
            problem.headers[.xRateLimitRemaining] = "0"
            problem.headers[.xRateLimitReset] = String(resetSeconds)
            throw problem
        }
        var response = try await next(request, context)
        if scope == .client {
            response.headers[.xRateLimitLimit] = String(limit)
            response.headers[.xRateLimitRemaining] = String(limit - count)
            response.headers[.xRateLimitReset] = String(resetSeconds)
        }
        return response
    }
}
