import GatewayCore
import SQLiteNIO

/// Conversions between rows and records.
enum SQLiteRows {
    static func text(_ row: SQLiteRow, _ column: String) throws -> String {
        guard let value = row.column(column)?.string else {
            throw StoreError(.corrupt, "column \(column) is missing")
        }
        return value
    }

    static func optionalText(_ row: SQLiteRow, _ column: String) -> String? {
        guard let data = row.column(column), data != .null else { return nil }
        return data.string
    }

    static func integer(_ row: SQLiteRow, _ column: String) -> Int64 {
        Int64(row.column(column)?.integer ?? 0)
    }

    static func timestamp(_ row: SQLiteRow, _ column: String) -> Timestamp {
        Timestamp(millisecondsSince1970: integer(row, column))
    }

    static func json(_ row: SQLiteRow, _ column: String) throws -> JSONValue {
        do {
            return try JSONScanner.parse(try text(row, column))
        } catch {
            throw StoreError(.corrupt, "column \(column) holds invalid JSON")
        }
    }

    static func object(_ row: SQLiteRow, _ column: String) throws -> JSONObject {
        guard case .object(let object) = try json(row, column) else {
            throw StoreError(.corrupt, "column \(column) is not a JSON object")
        }
        return object
    }

    /// A gateway row; its credentials and process environment are stored encrypted.
    static func gateway(_ row: SQLiteRow, cipher: CredentialCipher) throws -> GatewayRecord {
        let transportName = try text(row, "transport")
        guard let transport = UpstreamTransport(parsing: transportName) else {
            throw StoreError(.corrupt, "unknown transport in gateways")
        }
        return GatewayRecord(
            id: try text(row, "id"),
            name: try text(row, "name"),
            slug: try text(row, "slug"),
            url: try text(row, "url"),
            description: optionalText(row, "description"),
            transport: transport,
            enabled: integer(row, "enabled") != 0,
            reachable: integer(row, "reachable") != 0,
            capabilities: try json(row, "capabilities"),
            protocolVersion: optionalText(row, "protocol_version"),
            auth: try StoredCredentials.openAuth(try text(row, "auth"), cipher: cipher),
            createdAt: timestamp(row, "created_at"),
            updatedAt: timestamp(row, "updated_at"),
            lastSeen: row.column("last_seen")?.integer.map { Timestamp(millisecondsSince1970: Int64($0)) },
            command: try optionalText(row, "command").map { try StoredCredentials.openCommand($0, cipher: cipher) },
            syncInterval: row.column("sync_interval")?.integer
        )
    }

    static func gatewayBinds(_ gateway: GatewayRecord, cipher: CredentialCipher) throws -> [SQLiteData] {
        [
            .text(gateway.id), .text(gateway.name), .text(gateway.slug), .text(gateway.url),
            gateway.description.map { .text($0) } ?? .null, .text(gateway.transport.rawValue),
            .integer(gateway.enabled ? 1 : 0), .integer(gateway.reachable ? 1 : 0),
            .text(gateway.capabilities.serializedString), gateway.protocolVersion.map { .text($0) } ?? .null,
            .text(try StoredCredentials.seal(gateway.auth, cipher: cipher)),
            .integer(Int(gateway.createdAt.millisecondsSince1970)),
            .integer(Int(gateway.updatedAt.millisecondsSince1970)),
            gateway.lastSeen.map { .integer(Int($0.millisecondsSince1970)) } ?? .null,
            try gateway.command.map { .text(try StoredCredentials.seal($0, cipher: cipher)) } ?? .null,
            gateway.syncInterval.map { .integer($0) } ?? .null,
        ]
    }

    /// A tool or prompt row (they share their columns).
    static func named<Item: NamedItemRecord>(_ row: SQLiteRow, as type: Item.Type) throws -> Item {
        Item(
            id: try text(row, "id"),
            gatewayID: try text(row, "gateway_id"),
            originalName: try text(row, "original_name"),
            name: try text(row, "name"),
            definition: try object(row, "definition"),
            enabled: integer(row, "enabled") != 0,
            createdAt: timestamp(row, "created_at")
        )
    }

    static func resource(_ row: SQLiteRow) throws -> ResourceRecord {
        ResourceRecord(
            id: try text(row, "id"),
            gatewayID: try text(row, "gateway_id"),
            uri: try text(row, "uri"),
            definition: try object(row, "definition"),
            enabled: integer(row, "enabled") != 0,
            createdAt: timestamp(row, "created_at")
        )
    }

    static func template(_ row: SQLiteRow) throws -> ResourceTemplateRecord {
        ResourceTemplateRecord(
            id: try text(row, "id"),
            gatewayID: try text(row, "gateway_id"),
            uriTemplate: try text(row, "uri_template"),
            definition: try object(row, "definition"),
            createdAt: timestamp(row, "created_at")
        )
    }

    static func server(_ row: SQLiteRow) throws -> VirtualServerRecord {
        VirtualServerRecord(
            id: try text(row, "id"),
            name: try text(row, "name"),
            description: optionalText(row, "description"),
            icon: optionalText(row, "icon"),
            toolIDs: [],
            resourceIDs: [],
            promptIDs: [],
            enabled: integer(row, "enabled") != 0,
            createdAt: timestamp(row, "created_at"),
            updatedAt: timestamp(row, "updated_at")
        )
    }

    static func serverBinds(_ server: VirtualServerRecord) -> [SQLiteData] {
        [
            .text(server.id), .text(server.name), server.description.map { .text($0) } ?? .null,
            server.icon.map { .text($0) } ?? .null, .integer(server.enabled ? 1 : 0),
            .integer(Int(server.createdAt.millisecondsSince1970)),
            .integer(Int(server.updatedAt.millisecondsSince1970)),
        ]
    }
}
