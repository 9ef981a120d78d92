import GatewayAuth
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging

/// `POST /tokens`, `GET /tokens`, `DELETE /tokens/{id}`: API tokens a user creates for their
/// agents, in ContextForge's shape. The signed token is returned once; only its record is kept.
/// A revoked token is refused on the next request.
public struct TokenRoutes: Sendable {
    public let authority: TokenAuthority
    public let store: any TokenStore
    public let catalog: CatalogHolder
    public let audit: AuditTrail?
    /// Longest lifetime a created token may have (TOKEN_MAX_EXPIRY_DAYS).
    public let maximumDays: Int
    public let maximumBodyBytes: Int
    public let rules: ValidationRules
    /// Reads request bodies within BODY_READ_TIMEOUT.
    public let bodyReader: RequestBodyReader
    /// Tells the other nodes of a revocation (they also reload revocations after missing news).
    public let coordinator: (any Coordinator)?

    public init(
        authority: TokenAuthority,
        store: any TokenStore,
        catalog: CatalogHolder,
        audit: AuditTrail?,
        maximumDays: Int,
        maximumBodyBytes: Int,
        rules: ValidationRules,
        bodyReader: RequestBodyReader = RequestBodyReader(timeout: .seconds(30)),
        coordinator: (any Coordinator)? = nil
    ) {
        self.bodyReader = bodyReader
        self.coordinator = coordinator
        self.rules = rules
        self.authority = authority
        self.store = store
        self.catalog = catalog
        self.audit = audit
        self.maximumDays = maximumDays
        self.maximumBodyBytes = maximumBodyBytes
    }

    public func register(on group: RouterGroup<GatewayRequestContext>) {
        group.post { request, context in try await create(request, context: context) }
        group.get { request, context in
            try await list(request, subject: try context.requirePrincipal().subject)
        }
        group.delete(":id") { _, context in
            try await revoke(
                try context.parameters.require("id"),
                owner: try context.requirePrincipal().subject,
                context
            )
        }
        // Operators (admin tokens) see and revoke every subject's tokens, as in ContextForge.
        group.get("admin/all") { request, context in
            _ = try RESTRoutes.requireAdmin(context, "Listing every subject's tokens")
            return try await list(request, subject: nil)
        }
        group.delete("admin/:id") { _, context in
            _ = try RESTRoutes.requireAdmin(context, "Revoking another subject's token")
            return try await revoke(try context.parameters.require("id"), owner: nil, context)
        }
    }

    /// The tokens of `subject` (everyone's with `nil`).
    func list(_ request: Request, subject: String?) async throws -> Response {
        let tokens = try await store.tokens(subject: subject)
        let limit = try RESTRoutes.limit(request) ?? tokens.count
        return RESTRoutes.json([
            "tokens": .array(tokens.prefix(limit).map(Self.json)), "total": .int(Int64(tokens.count)),
            "limit": .int(Int64(limit)), "offset": 0,
        ])
    }

    /// Revokes a token of `owner` (any owner's with `nil`) and every token minted from it.
    func revoke(_ id: String, owner: String?, _ context: GatewayRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        guard let revoked = try await store.revokeToken(id: id, subject: owner, at: .now()), let token = revoked.first
        else {
            throw ProblemError.notFound("Token not found: \(id)")
        }
        for each in revoked {
            authority.revocations.revoke(each.id, until: each.expiresAt)
            // Stored first, so a node that misses this announcement still learns of it when it
            // reconciles with the store.
            do {
                try await coordinator?.publishRevocation(TokenRevocation(tokenID: each.id, expiresAt: each.expiresAt))
            } catch {
                AnnouncementMetrics.failed(.revocations)
                context.logger.warning("token revocation could not be announced", metadata: ["error": "\(error)"])
            }
        }
        audit?.record(
            AuditEntry(
                at: .now(),
                actor: principal.subject,
                action: "token.revoke",
                targetType: "token",
                targetID: id,
                clientIP: context.peerIP,
                detail: [
                    "name": .string(token.name), "owner": .string(token.subject),
                    "descendants": .array(revoked.dropFirst().map { .string($0.id) }),
                ]
            )
        )
        return Response(status: .noContent)
    }

    func create(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        guard authority.canIssue else {
            throw ProblemError(.notImplemented, "This gateway holds only a public key; it cannot sign tokens")
        }
        let input = try TokenInput(
            try await RequestJSON.object(
                request,
                limit: maximumBodyBytes,
                depth: rules.maximumJSONDepth,
                reader: bodyReader
            ),
            maximumDays: maximumDays,
            rules: rules
        )
        if let server = input.serverID, catalog.snapshot.serversByID[server] == nil {
            throw ProblemError.invalid("scope.server_id", "names no virtual server (\(server))")
        }
        // A minted token never reaches further than the token minting it: its server, if scoped.
        let serverScope = input.serverID ?? principal.serverScope
        if let parentScope = principal.serverScope, serverScope != parentScope {
            throw ProblemError.invalid("scope.server_id", "must be \(parentScope), the server this token is limited to")
        }
        let lifetime = Self.lifetime(days: input.days, parentExpiry: principal.expiresAt)
        guard lifetime >= .seconds(1) else { throw BearerAuth.unauthorized("the token has expired") }
        let issued = try await authority.issue(subject: principal.subject, lifetime: lifetime, serverScope: serverScope)
        let record = APITokenRecord(
            id: issued.id,
            subject: principal.subject,
            name: input.name,
            description: input.description,
            serverID: serverScope,
            createdAt: .now(),
            expiresAt: issued.expiresAt,
            parentID: principal.tokenID
        )
        do {
            try await store.insertToken(record)
        } catch let error as StoreError where error.code == .conflict {
            throw ProblemError(.conflict, "You already have an active token named \(input.name)")
        } catch let error as StoreError where error.code == .parentRevoked {
            throw BearerAuth.unauthorized("the token has been revoked")
        }
        audit?.record(
            AuditEntry(
                at: .now(),
                actor: principal.subject,
                action: "token.create",
                targetType: "token",
                targetID: issued.id,
                clientIP: context.peerIP,
                detail: ["name": .string(input.name), "server_id": RecordJSON.optional(input.serverID)]
            )
        )
        return RESTRoutes.json(["token": Self.json(record), "access_token": .string(issued.token)], status: .created)
    }

    /// `days`, cut short so the token expires no later than the one minting it.
    static func lifetime(days: Int, parentExpiry: Timestamp?) -> Duration {
        let requested = Duration.seconds(days * 86400)
        guard let parentExpiry else { return requested }
        let left = parentExpiry.millisecondsSince1970 - Timestamp.now().millisecondsSince1970
        return min(requested, .milliseconds(max(0, left)))
    }

    static func json(_ token: APITokenRecord) -> JSONValue {
        .object(
            JSONObject([
                ("id", .string(token.id)), ("name", .string(token.name)),
                ("description", RecordJSON.optional(token.description)),
                ("user_email", .string(token.subject)), ("server_id", RecordJSON.optional(token.serverID)),
                ("created_at", .string(token.createdAt.iso8601)), ("expires_at", .string(token.expiresAt.iso8601)),
                ("revoked_at", RecordJSON.optional(token.revokedAt?.iso8601)),
                ("parent_id", RecordJSON.optional(token.parentID)),
                ("is_active", .bool(token.revokedAt == nil && token.expiresAt > .now())),
            ])
        )
    }
}

/// A validated `POST /tokens` body.
struct TokenInput {
    var name: String
    var description: String?
    var days: Int
    var serverID: String?

    init(_ object: JSONObject, maximumDays: Int, rules: ValidationRules) throws {
        let fields = Fields(object: object, rules: rules)
        let known: Set<String> = ["name", "description", "expires_in_days", "scope", "server_id", "tags"]
        if let unknown = object.members.map(\.0).first(where: { !known.contains($0) }) {
            throw ProblemError.invalid(unknown, "is not a token field (name, description, expires_in_days, scope)")
        }
        guard let name = try InputParser.name(fields, required: true) else {
            throw ProblemError.invalid("name", "is required")
        }
        self.name = name
        description = try InputParser.description(fields)
        days = 30
        if let value = object["expires_in_days"], !value.isNull {
            guard let days = value.intValue, (1...maximumDays).contains(Int(days)) else {
                throw ProblemError.invalid("expires_in_days", "must be an integer from 1 to \(maximumDays)")
            }
            self.days = Int(days)
        }
        serverID = try fields.string("server_id", maxLength: 255)
        if let scope = object["scope"], !scope.isNull {
            guard case .object(let members) = scope else { throw ProblemError.invalid("scope", "must be an object") }
            for (key, value) in members.members {
                switch key {
                case "server_id":
                    guard value.isNull || value.stringValue != nil else {
                        throw ProblemError.invalid("scope.server_id", "must be a string")
                    }
                    serverID = value.stringValue ?? serverID
                case "permissions", "ip_restrictions", "time_restrictions", "usage_limits":
                    // Accepted empty for ContextForge clients; anything in them would be a promise not kept.
                    guard
                        value.isNull || value.arrayValue?.isEmpty == true || value.objectValue?.members.isEmpty == true
                    else {
                        throw ProblemError.invalid("scope.\(key)", "is not supported; scope a token to a server_id")
                    }
                default:
                    throw ProblemError.invalid("scope.\(key)", "is not a scope field (server_id)")
                }
            }
        }
    }
}
