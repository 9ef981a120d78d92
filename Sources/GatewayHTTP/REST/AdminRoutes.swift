import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird

/// The admin API (MCPGATEWAY_ADMIN_API_ENABLED): served on its own listener, loopback unless
/// ADMIN_HOST says otherwise, and only to tokens minted with `is_admin` by an operator.
/// `GET /audit` pages through the audit log, newest first.
public struct AdminRoutes: Sendable {
    public let audit: AuditTrail
    public let store: any AuditStore

    public init(audit: AuditTrail, store: any AuditStore) {
        self.audit = audit
        self.store = store
    }

    public func register(on router: Router<GatewayRequestContext>) {
        router.add(middleware: AdminOnlyMiddleware())
        router.get("audit") { request, _ in
            let query = try Self.query(request)
            await audit.flush()
            let entries = try await store.auditEntries(query)
            let next: JSONValue = entries.count == query.limit ? entries.last?.id.map { .int($0) } ?? .null : .null
            return RESTRoutes.json(["entries": .array(entries.map(Self.json)), "next": next])
        }
    }

    static func query(_ request: Request) throws -> AuditQuery {
        let parameters = request.uri.queryParameters
        var query = AuditQuery(limit: 100)
        if let text = parameters.get("limit") {
            guard let limit = Int(text), (1...1000).contains(limit) else {
                throw ProblemError.invalid("limit", "must be an integer from 1 to 1000")
            }
            query.limit = limit
        }
        if let text = parameters.get("before") {
            guard let before = Int64(text), before > 0 else {
                throw ProblemError.invalid("before", "must be a positive entry id")
            }
            query.beforeID = before
        }
        if let text = parameters.get("since") {
            guard let date = ISO8601DateFormatter().date(from: text) else {
                throw ProblemError.invalid("since", "must be an ISO 8601 time such as 2026-11-25T10:00:00Z")
            }
            query.since = Timestamp(millisecondsSince1970: Int64(date.timeIntervalSince1970 * 1000))
        }
        query.actor = parameters.get("actor")
        query.action = parameters.get("action")
        for (name, value) in [("actor", query.actor), ("action", query.action)] where (value?.utf8.count ?? 0) > 255 {
            throw ProblemError.invalid(name, "must be at most 255 characters")
        }
        return query
    }

    static func json(_ entry: AuditEntry) -> JSONValue {
        .object(
            JSONObject([
                ("id", entry.id.map { .int($0) } ?? .null), ("timestamp", .string(entry.at.iso8601)),
                ("actor", .string(entry.actor)), ("action", .string(entry.action)),
                ("target_type", RecordJSON.optional(entry.targetType)),
                ("target_id", RecordJSON.optional(entry.targetID)),
                ("outcome", .string(entry.outcome)), ("client_ip", RecordJSON.optional(entry.clientIP)),
                ("detail", entry.detail ?? .null),
            ])
        )
    }
}

/// Lets only admin principals through (after ``BearerAuthMiddleware``).
struct AdminOnlyMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard try context.requirePrincipal().isAdmin else {
            throw ProblemError(.forbidden, "The admin API needs an admin token (mcpgateway token --admin)")
        }
        return try await next(request, context)
    }
}
