import GatewayCore
import PostgresNIO

/// Conversions from PostgreSQL rows to records. A missing or unreadable column is
/// `StoreError(.corrupt)`, never a crash.
enum PostgresRows {
    static func cell<T: PostgresDecodable>(
        _ row: PostgresRandomAccessRow,
        _ column: String,
        as type: T.Type
    ) throws -> T {
        guard row.contains(column) else { throw StoreError(.corrupt, "column \(column) is missing") }
        do {
            return try row[column].decode(T.self)
        } catch {
            throw StoreError(.corrupt, "column \(column) is unreadable")
        }
    }

    static func text(_ row: PostgresRandomAccessRow, _ column: String) throws -> String {
        guard let value = try cell(row, column, as: String?.self) else {
            throw StoreError(.corrupt, "column \(column) is missing")
        }
        return value
    }

    static func optionalText(_ row: PostgresRandomAccessRow, _ column: String) throws -> String? {
        try cell(row, column, as: String?.self)
    }

    static func integer(_ row: PostgresRandomAccessRow, _ column: String) throws -> Int64 {
        try cell(row, column, as: Int64?.self) ?? 0
    }

    static func flag(_ row: PostgresRandomAccessRow, _ column: String) throws -> Bool {
        try cell(row, column, as: Bool?.self) ?? false
    }

    static func timestamp(_ row: PostgresRandomAccessRow, _ column: String) throws -> Timestamp {
        Timestamp(millisecondsSince1970: try integer(row, column))
    }

    static func optionalTimestamp(_ row: PostgresRandomAccessRow, _ column: String) throws -> Timestamp? {
        try cell(row, column, as: Int64?.self).map { Timestamp(millisecondsSince1970: $0) }
    }

    static func json(_ row: PostgresRandomAccessRow, _ column: String) throws -> JSONValue {
        let text = try text(row, column)
        do {
            return try JSONScanner.parse(text)
        } catch {
            throw StoreError(.corrupt, "column \(column) holds invalid JSON")
        }
    }

    static func object(_ row: PostgresRandomAccessRow, _ column: String) throws -> JSONObject {
        guard case .object(let object) = try json(row, column) else {
            throw StoreError(.corrupt, "column \(column) is not a JSON object")
        }
        return object
    }

    /// A gateway row; its credentials and process environment are stored encrypted.
    static func gateway(_ row: PostgresRandomAccessRow, cipher: CredentialCipher) throws -> GatewayRecord {
        guard let transport = UpstreamTransport(parsing: try text(row, "transport")) else {
            throw StoreError(.corrupt, "unknown transport in gateways")
        }
        return GatewayRecord(
            id: try text(row, "id"),
            name: try text(row, "name"),
            slug: try text(row, "slug"),
            url: try text(row, "url"),
            description: try optionalText(row, "description"),
            transport: transport,
            enabled: try flag(row, "enabled"),
            reachable: try flag(row, "reachable"),
            capabilities: try json(row, "capabilities"),
            protocolVersion: try optionalText(row, "protocol_version"),
            auth: try StoredCredentials.openAuth(try text(row, "auth"), cipher: cipher),
            createdAt: try timestamp(row, "created_at"),
            updatedAt: try timestamp(row, "updated_at"),
            lastSeen: try optionalTimestamp(row, "last_seen"),
            command: try optionalText(row, "command").map { try StoredCredentials.openCommand($0, cipher: cipher) },
            syncInterval: try row["sync_interval"].decode(Int32?.self).map(Int.init)
        )
    }

    static func named<Item: NamedItemRecord>(_ row: PostgresRandomAccessRow, as type: Item.Type) throws -> Item {
        Item(
            id: try text(row, "id"),
            gatewayID: try text(row, "gateway_id"),
            originalName: try text(row, "original_name"),
            name: try text(row, "name"),
            definition: try object(row, "definition"),
            enabled: try flag(row, "enabled"),
            createdAt: try timestamp(row, "created_at")
        )
    }

    static func resource(_ row: PostgresRandomAccessRow) throws -> ResourceRecord {
        ResourceRecord(
            id: try text(row, "id"),
            gatewayID: try text(row, "gateway_id"),
            uri: try text(row, "uri"),
            definition: try object(row, "definition"),
            enabled: try flag(row, "enabled"),
            createdAt: try timestamp(row, "created_at")
        )
    }

    static func template(_ row: PostgresRandomAccessRow) throws -> ResourceTemplateRecord {
        ResourceTemplateRecord(
            id: try text(row, "id"),
            gatewayID: try text(row, "gateway_id"),
            uriTemplate: try text(row, "uri_template"),
            definition: try object(row, "definition"),
            createdAt: try timestamp(row, "created_at")
        )
    }

    static func server(_ row: PostgresRandomAccessRow) throws -> VirtualServerRecord {
        VirtualServerRecord(
            id: try text(row, "id"),
            name: try text(row, "name"),
            description: try optionalText(row, "description"),
            icon: try optionalText(row, "icon"),
            toolIDs: [],
            resourceIDs: [],
            promptIDs: [],
            enabled: try flag(row, "enabled"),
            createdAt: try timestamp(row, "created_at"),
            updatedAt: try timestamp(row, "updated_at")
        )
    }

    static func token(_ row: PostgresRandomAccessRow) throws -> APITokenRecord {
        APITokenRecord(
            id: try text(row, "id"),
            subject: try text(row, "subject"),
            name: try text(row, "name"),
            description: try optionalText(row, "description"),
            serverID: try optionalText(row, "server_id"),
            createdAt: try timestamp(row, "created_at"),
            expiresAt: try timestamp(row, "expires_at"),
            revokedAt: try optionalTimestamp(row, "revoked_at"),
            parentID: try optionalText(row, "parent_id")
        )
    }

    static func auditEntry(_ row: PostgresRandomAccessRow) throws -> AuditEntry {
        AuditEntry(
            id: try integer(row, "id"),
            at: try timestamp(row, "at"),
            actor: try text(row, "actor"),
            action: try text(row, "action"),
            targetType: try optionalText(row, "target_type"),
            targetID: try optionalText(row, "target_id"),
            outcome: try text(row, "outcome"),
            clientIP: try optionalText(row, "client_ip"),
            detail: try optionalText(row, "detail").map { try JSONScanner.parse($0) }
        )
    }
}
