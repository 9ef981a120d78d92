/// The API tokens' records and revocations (part of ``Store``).
public protocol TokenStore: Sendable {
    /// Records a newly issued token; a conflict when its owner has an active token of that name,
    /// and `parentRevoked` (nothing recorded) when its parent has been revoked meanwhile.
    func insertToken(_ token: APITokenRecord) async throws
    /// The owner's tokens (everyone's with `nil`, for operators), newest first, revoked ones
    /// included.
    func tokens(subject: String?) async throws -> [APITokenRecord]
    /// Marks a token revoked, and with it every token minted from it (its descendants); the
    /// owner must be `subject` unless that is `nil` (an operator). Returns the token first, then
    /// the descendants this revoked; `nil` when there is no such token.
    func revokeToken(id: String, subject: String?, at: Timestamp) async throws -> [APITokenRecord]?
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
