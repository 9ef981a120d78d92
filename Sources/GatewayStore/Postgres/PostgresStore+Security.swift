import GatewayCore
import PostgresNIO

extension PostgresStore {
    // MARK: - Tokens

    public func insertToken(_ token: APITokenRecord) async throws {
        try await transaction { session in
            // The parent's row is locked against a concurrent revocation, so a token minted by one
            // being revoked is either revoked with it or refused here.
            if let parent = token.parentID {
                let rows = try await session.run(
                    "SELECT revoked_at FROM api_tokens WHERE id = \(parent) FOR UPDATE"
                )
                if let row = rows.first, try PostgresRows.optionalTimestamp(row, "revoked_at") != nil {
                    throw StoreError(.parentRevoked, "the parent token has been revoked")
                }
            }
            try await session.run(
                """
                INSERT INTO api_tokens
                    (id, subject, name, description, server_id, created_at, expires_at, revoked_at, parent_id)
                VALUES (\(token.id), \(token.subject), \(token.name), \(token.description), \(token.serverID),
                    \(token.createdAt.millisecondsSince1970), \(token.expiresAt.millisecondsSince1970), NULL,
                    \(token.parentID))
                """
            )
        }
    }

    public func tokens(subject: String?) async throws -> [APITokenRecord] {
        try await withSession { session in
            if let subject {
                return try await session.run(
                    #"SELECT * FROM api_tokens WHERE subject = \#(subject) ORDER BY created_at DESC, id COLLATE "C""#
                ).map(PostgresRows.token)
            }
            return try await session.run(#"SELECT * FROM api_tokens ORDER BY created_at DESC, id COLLATE "C""#)
                .map(PostgresRows.token)
        }
    }

    public func revokeToken(id: String, subject: String?, at: Timestamp) async throws -> [APITokenRecord]? {
        try await transaction { session in
            let rows = try await session.run("SELECT * FROM api_tokens WHERE id = \(id) FOR UPDATE")
            guard let row = rows.first else { return nil }
            var token = try PostgresRows.token(row)
            if let subject, token.subject != subject { return nil }
            // The token and everything minted from it, however deep.
            let revoked = try await session.run(
                """
                WITH RECURSIVE tree(id) AS (
                    SELECT \(id)::text UNION SELECT api_tokens.id FROM api_tokens JOIN tree ON api_tokens.parent_id = tree.id)
                UPDATE api_tokens SET revoked_at = \(at.millisecondsSince1970)
                WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL
                RETURNING *
                """
            ).map(PostgresRows.token)
            if token.revokedAt == nil { token.revokedAt = at }
            return [token] + revoked.filter { $0.id != id }
        }
    }

    public func activeRevocations(now: Timestamp) async throws -> [TokenRevocation] {
        try await withSession { session in
            try await session.run(
                """
                SELECT id, expires_at FROM api_tokens
                WHERE revoked_at IS NOT NULL AND expires_at > \(now.millisecondsSince1970)
                """
            ).map { row in
                TokenRevocation(
                    tokenID: try PostgresRows.text(row, "id"),
                    expiresAt: try PostgresRows.timestamp(row, "expires_at")
                )
            }
        }
    }

    // MARK: - Audit log

    public func appendAudit(_ entries: [AuditEntry]) async throws {
        guard !entries.isEmpty else { return }
        try await transaction { session in
            for entry in entries {
                try await session.run(
                    """
                    INSERT INTO audit_log (at, actor, action, target_type, target_id, outcome, client_ip, detail)
                    VALUES (\(entry.at.millisecondsSince1970), \(entry.actor), \(entry.action), \(entry.targetType),
                        \(entry.targetID), \(entry.outcome), \(entry.clientIP), \(entry.detail?.serializedString))
                    """
                )
            }
        }
    }

    public func auditEntries(_ query: AuditQuery) async throws -> [AuditEntry] {
        // An action ending in "." is a prefix (`gateway.`), anything else an exact action.
        let prefix = query.action.flatMap { $0.hasSuffix(".") ? $0 : nil }
        let exact = query.action.flatMap { $0.hasSuffix(".") ? nil : $0 }
        let before = query.beforeID
        let since = query.since?.millisecondsSince1970
        let limit = Int64(query.limit)
        return try await withSession { session in
            try await session.run(
                """
                SELECT * FROM audit_log
                WHERE (\(before)::BIGINT IS NULL OR id < \(before))
                    AND (\(query.actor)::TEXT IS NULL OR actor = \(query.actor))
                    AND (\(exact)::TEXT IS NULL OR action = \(exact))
                    AND (\(prefix)::TEXT IS NULL OR starts_with(action, \(prefix)))
                    AND (\(since)::BIGINT IS NULL OR at >= \(since))
                ORDER BY id DESC LIMIT \(limit)
                """
            ).map(PostgresRows.auditEntry)
        }
    }

    public func pruneAudit(before cutoff: Timestamp) async throws -> Int {
        try await withSession { session in
            let rows = try await session.run(
                """
                WITH removed AS (DELETE FROM audit_log WHERE at < \(cutoff.millisecondsSince1970) RETURNING 1)
                SELECT count(*) AS n FROM removed
                """
            )
            return Int(try rows.first.map { try PostgresRows.integer($0, "n") } ?? 0)
        }
    }
}
