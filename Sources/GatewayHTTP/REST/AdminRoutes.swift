import Foundation
import GatewayAuth
import GatewayCore
import HTTPTypes
import Hummingbird

/// The admin API (MCPGATEWAY_ADMIN_API_ENABLED): served on its own listener, loopback unless
/// ADMIN_HOST says otherwise, and only to tokens minted with `is_admin` by an operator.
/// `GET /audit` pages through the audit log, newest first; `GET /cluster` shows the live nodes and
/// the leader.
public struct AdminRoutes: Sendable {
    public let audit: AuditTrail
    public let store: any AuditStore
    public let coordinator: any Coordinator

    public init(audit: AuditTrail, store: any AuditStore, coordinator: any Coordinator) {
        self.audit = audit
        self.store = store
        self.coordinator = coordinator
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
        router.get("cluster") { _, _ in
            let view: ClusterView
            do {
                view = try await coordinator.clusterView()
            } catch {
                throw ProblemError(.serviceUnavailable, "the cluster registry cannot be read: Redis unavailable")
            }
            return RESTRoutes.json(Self.json(view))
        }
    }

    static func json(_ view: ClusterView) -> JSONValue {
        let nodes: [JSONValue] = view.nodes.map { node in
            .object(
                JSONObject([
                    ("id", .string(node.id)), ("address", .string(node.address)), ("version", .string(node.version)),
                    ("startedAt", .string(Timestamp(millisecondsSince1970: node.startedAt).iso8601)),
                    ("lastSeen", .string(Timestamp(millisecondsSince1970: node.lastSeen).iso8601)),
                    ("load", .int(Int64(node.load))),
                ])
            )
        }
        let leader: JSONValue =
            view.leader.map { leader in
                .object(
                    JSONObject([
                        ("id", .string(leader.id)), ("epoch", .int(leader.epoch)),
                        ("since", .string(Timestamp(millisecondsSince1970: leader.since).iso8601)),
                    ])
                )
            } ?? .null
        return ["nodes": .array(nodes), "leader": leader]
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
