/// The API tokens' records and revocations (part of ``Store``).
public protocol TokenStore: Sendable {
    /// Records a newly issued token; a conflict when its owner has an active token of that name.
    func insertToken(_ token: APITokenRecord) async throws
    /// The owner's tokens, newest first, revoked ones included.
    func tokens(subject: String) async throws -> [APITokenRecord]
    /// Marks the owner's token revoked; `nil` when the owner has no token with that id.
    func revokeToken(id: String, subject: String, at: Timestamp) async throws -> APITokenRecord?
    /// Revoked tokens that have not expired yet, to be refused on every node.
    func activeRevocations(now: Timestamp) async throws -> [TokenRevocation]
}

/// The audit log (part of ``Store``): appended in batches, read newest first, pruned by age.
public protocol AuditStore: Sendable {
    func appendAudit(_ entries: [AuditEntry]) async throws
    func auditEntries(_ query: AuditQuery) async throws -> [AuditEntry]
    /// Deletes entries older than `cutoff`; returns how many.
    func pruneAudit(before cutoff: Timestamp) async throws -> Int
}
