import GatewayCore
import SQLiteNIO

extension SQLiteStore {
    // MARK: - Tokens

    public func insertToken(_ token: APITokenRecord) async throws {
        try await exclusive(transaction: true) { connection in
            // Checked in the same transaction as the revocation would be, so a token minted by
            // one being revoked is either revoked with it or refused here.
            if let parent = token.parentID {
                let revoked = try await connection.query(
                    "SELECT 1 FROM api_tokens WHERE id = ? AND revoked_at IS NOT NULL",
                    [.text(parent)]
                )
                guard revoked.isEmpty else { throw StoreError(.parentRevoked, "the parent token has been revoked") }
            }
            _ = try await connection.query(
                """
                INSERT INTO api_tokens
                    (id, subject, name, description, server_id, created_at, expires_at, revoked_at, parent_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)
                """,
                [
                    .text(token.id), .text(token.subject), .text(token.name),
                    token.description.map { .text($0) } ?? .null,
                    token.serverID.map { .text($0) } ?? .null, .integer(Int(token.createdAt.millisecondsSince1970)),
                    .integer(Int(token.expiresAt.millisecondsSince1970)), token.parentID.map { .text($0) } ?? .null,
                ]
            )
        }
    }

    public func tokens(subject: String?) async throws -> [APITokenRecord] {
        try await exclusive(transaction: false) { connection in
            if let subject {
                return try await connection.query(
                    "SELECT * FROM api_tokens WHERE subject = ? ORDER BY created_at DESC, id",
                    [.text(subject)]
                ).map(Self.token)
            }
            return try await connection.query("SELECT * FROM api_tokens ORDER BY created_at DESC, id").map(Self.token)
        }
    }

    public func revokeToken(id: String, subject: String?, at: Timestamp) async throws -> [APITokenRecord]? {
        try await exclusive(transaction: true) { connection in
            let rows = try await connection.query("SELECT * FROM api_tokens WHERE id = ?", [.text(id)])
            guard let row = rows.first else { return nil }
            var token = try Self.token(row)
            if let subject, token.subject != subject { return nil }
            // The token and everything minted from it, however deep.
            let revoked = try await connection.query(
                """
                WITH RECURSIVE tree(id) AS (
                    SELECT ?1 UNION SELECT api_tokens.id FROM api_tokens JOIN tree ON api_tokens.parent_id = tree.id)
                UPDATE api_tokens SET revoked_at = ?2 WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL
                RETURNING *
                """,
                [.text(id), .integer(Int(at.millisecondsSince1970))]
            ).map(Self.token)
            if token.revokedAt == nil { token.revokedAt = at }
            return [token] + revoked.filter { $0.id != id }
        }
    }

    public func activeRevocations(now: Timestamp) async throws -> [TokenRevocation] {
        try await exclusive(transaction: false) { connection in
            try await connection.query(
                "SELECT id, expires_at FROM api_tokens WHERE revoked_at IS NOT NULL AND expires_at > ?",
                [.integer(Int(now.millisecondsSince1970))]
            ).map { row in
                TokenRevocation(
                    tokenID: try SQLiteRows.text(row, "id"),
                    expiresAt: SQLiteRows.timestamp(row, "expires_at")
                )
            }
        }
    }

    static func token(_ row: SQLiteRow) throws -> APITokenRecord {
        APITokenRecord(
            id: try SQLiteRows.text(row, "id"),
            subject: try SQLiteRows.text(row, "subject"),
            name: try SQLiteRows.text(row, "name"),
            description: SQLiteRows.optionalText(row, "description"),
            serverID: SQLiteRows.optionalText(row, "server_id"),
            createdAt: SQLiteRows.timestamp(row, "created_at"),
            expiresAt: SQLiteRows.timestamp(row, "expires_at"),
            revokedAt: row.column("revoked_at")?.integer.map { Timestamp(millisecondsSince1970: Int64($0)) },
            parentID: SQLiteRows.optionalText(row, "parent_id")
        )
    }

    // MARK: - Audit log

    public func appendAudit(_ entries: [AuditEntry]) async throws {
        guard !entries.isEmpty else { return }
        try await exclusive(transaction: true) { connection in
            for entry in entries {
                _ = try await connection.query(
                    """
                    INSERT INTO audit_log (at, actor, action, target_type, target_id, outcome, client_ip, detail)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        .integer(Int(entry.at.millisecondsSince1970)), .text(entry.actor), .text(entry.action),
                        entry.targetType.map { .text($0) } ?? .null, entry.targetID.map { .text($0) } ?? .null,
                        .text(entry.outcome), entry.clientIP.map { .text($0) } ?? .null,
                        entry.detail.map { .text($0.serializedString) } ?? .null,
                    ]
                )
            }
        }
    }

    public func auditEntries(_ query: AuditQuery) async throws -> [AuditEntry] {
        var conditions: [String] = []
        var binds: [SQLiteData] = []
        if let before = query.beforeID {
            conditions.append("id < ?")
            binds.append(.integer(Int(before)))
        }
        if let actor = query.actor {
            conditions.append("actor = ?")
            binds.append(.text(actor))
        }
        if let action = query.action {
            if action.hasSuffix(".") {
                conditions.append("substr(action, 1, ?) = ?")
                binds.append(contentsOf: [.integer(action.utf8.count), .text(action)])
            } else {
                conditions.append("action = ?")
                binds.append(.text(action))
            }
        }
        if let since = query.since {
            conditions.append("at >= ?")
            binds.append(.integer(Int(since.millisecondsSince1970)))
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        binds.append(.integer(query.limit))
        let sql = "SELECT * FROM audit_log \(filter) ORDER BY id DESC LIMIT ?"
        return try await exclusive(transaction: false) { connection in
            try await connection.query(sql, binds).map { row in
                AuditEntry(
                    id: SQLiteRows.integer(row, "id"),
                    at: SQLiteRows.timestamp(row, "at"),
                    actor: try SQLiteRows.text(row, "actor"),
                    action: try SQLiteRows.text(row, "action"),
                    targetType: SQLiteRows.optionalText(row, "target_type"),
                    targetID: SQLiteRows.optionalText(row, "target_id"),
                    outcome: try SQLiteRows.text(row, "outcome"),
                    clientIP: SQLiteRows.optionalText(row, "client_ip"),
                    detail: try SQLiteRows.optionalText(row, "detail").map { try JSONScanner.parse($0) }
                )
            }
        }
    }

    public func pruneAudit(before cutoff: Timestamp) async throws -> Int {
        try await exclusive(transaction: false) { connection in
            _ = try await connection.query(
                "DELETE FROM audit_log WHERE at < ?",
                [.integer(Int(cutoff.millisecondsSince1970))]
            )
            return try await connection.query("SELECT changes() AS n").first?.column("n")?.integer ?? 0
        }
    }
}
