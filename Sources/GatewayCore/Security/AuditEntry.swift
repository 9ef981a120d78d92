/// One line of the audit log: who did what to which object, and whether it worked.
/// Never holds a secret: details are ids, names and reasons, not bodies or tokens.
public struct AuditEntry: Sendable, Equatable {
    /// Assigned by the store; increasing, so it doubles as a cursor.
    public var id: Int64?
    public var at: Timestamp
    /// The token subject, or `anonymous` for refused requests.
    public var actor: String
    /// What happened, e.g. `gateway.create`, `token.revoke`, `auth.failure`.
    public var action: String
    public var targetType: String?
    public var targetID: String?
    /// `success` or `failure`.
    public var outcome: String
    /// The client's address as the gateway saw it.
    public var clientIP: String?
    /// Small, secret-free context (a name, a reason).
    public var detail: JSONValue?

    public init(
        id: Int64? = nil,
        at: Timestamp,
        actor: String,
        action: String,
        targetType: String? = nil,
        targetID: String? = nil,
        outcome: String = "success",
        clientIP: String? = nil,
        detail: JSONValue? = nil
    ) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.targetType = targetType
        self.targetID = targetID
        self.outcome = outcome
        self.clientIP = clientIP
        self.detail = detail
    }
}

/// A page request on the audit log, newest first.
public struct AuditQuery: Sendable, Equatable {
    public var limit: Int
    /// Only entries with a smaller id (the `next` cursor of the previous page).
    public var beforeID: Int64?
    public var actor: String?
    /// An exact action, or a prefix ending in `.` (`gateway.`).
    public var action: String?
    public var since: Timestamp?

    public init(
        limit: Int,
        beforeID: Int64? = nil,
        actor: String? = nil,
        action: String? = nil,
        since: Timestamp? = nil
    ) {
        self.limit = limit
        self.beforeID = beforeID
        self.actor = actor
        self.action = action
        self.since = since
    }
}
