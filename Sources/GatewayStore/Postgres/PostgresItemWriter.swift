import GatewayCore
import PostgresNIO

/// The statements behind gateway and server writes, run inside the caller's transaction. Table
/// names come from the enums below, never from input.
enum PostgresItemWriter {
    /// Tables of items that belong to a gateway.
    enum ItemTable: String {
        case tools, resources
        case resourceTemplates = "resource_templates"
        case prompts
    }

    /// Tables of a virtual server's members, with their member column.
    enum MemberTable: String, CaseIterable {
        case tools = "server_tools"
        case resources = "server_resources"
        case prompts = "server_prompts"

        var column: String {
            switch self {
            case .tools: "tool_id"
            case .resources: "resource_id"
            case .prompts: "prompt_id"
            }
        }

        func ids(of server: VirtualServerRecord) -> [String] {
            switch self {
            case .tools: server.toolIDs
            case .resources: server.resourceIDs
            case .prompts: server.promptIDs
            }
        }
    }

    /// Replaces a gateway's row and, when `items` is given, its items.
    static func rewriteGateway(
        _ gateway: GatewayRecord,
        items: GatewayItems?,
        cipher: CredentialCipher,
        on session: PostgresSession
    ) async throws {
        let auth = try StoredCredentials.seal(gateway.auth, cipher: cipher)
        let command = try gateway.command.map { try StoredCredentials.seal($0, cipher: cipher) }
        try await session.run(
            """
            UPDATE gateways SET name = \(gateway.name), slug = \(gateway.slug), url = \(gateway.url),
                description = \(gateway.description), transport = \(gateway.transport.rawValue),
                enabled = \(gateway.enabled), reachable = \(gateway.reachable),
                capabilities = \(gateway.capabilities.serializedString), protocol_version = \(gateway.protocolVersion),
                auth = \(auth), created_at = \(gateway.createdAt.millisecondsSince1970),
                updated_at = \(gateway.updatedAt.millisecondsSince1970),
                last_seen = \(gateway.lastSeen?.millisecondsSince1970), command = \(command),
                sync_interval = \(gateway.syncInterval.map(Int32.init))
            WHERE id = \(gateway.id)
            """
        )
        if let items { try await writeItems(items, gatewayID: gateway.id, on: session) }
    }

    /// Replaces a gateway's items, keeping rows (and so memberships) whose ids survive.
    static func writeItems(_ items: GatewayItems, gatewayID: String, on session: PostgresSession) async throws {
        try await prune(.tools, gatewayID: gatewayID, keeping: items.tools.map(\.id), on: session)
        try await prune(.resources, gatewayID: gatewayID, keeping: items.resources.map(\.id), on: session)
        try await prune(.resourceTemplates, gatewayID: gatewayID, keeping: [], on: session)
        try await prune(.prompts, gatewayID: gatewayID, keeping: items.prompts.map(\.id), on: session)
        try await writeNamed(items.tools, into: .tools, gatewayID: gatewayID, on: session)
        try await writeNamed(items.prompts, into: .prompts, gatewayID: gatewayID, on: session)
        for resource in items.resources {
            try await session.run(
                """
                INSERT INTO resources (id, gateway_id, uri, definition, enabled, created_at)
                VALUES (\(resource.id), \(gatewayID), \(resource.uri),
                    \(JSONValue.object(resource.definition).serializedString), \(resource.enabled),
                    \(resource.createdAt.millisecondsSince1970))
                ON CONFLICT (id) DO UPDATE SET uri = excluded.uri, definition = excluded.definition
                """
            )
        }
        for template in items.resourceTemplates {
            try await session.run(
                """
                INSERT INTO resource_templates (id, gateway_id, uri_template, definition, created_at)
                VALUES (\(template.id), \(gatewayID), \(template.uriTemplate),
                    \(JSONValue.object(template.definition).serializedString),
                    \(template.createdAt.millisecondsSince1970))
                """
            )
        }
    }

    /// Deletes the gateway's rows in `table` whose ids are not in `ids`.
    static func prune(
        _ table: ItemTable,
        gatewayID: String,
        keeping ids: [String],
        on session: PostgresSession
    ) async throws {
        let keep = Set(ids)
        let existing = try await session.run(
            "SELECT id FROM \(unescaped: table.rawValue) WHERE gateway_id = \(gatewayID)"
        )
        for row in existing {
            let id = try PostgresRows.text(row, "id")
            guard !keep.contains(id) else { continue }
            try await session.run("DELETE FROM \(unescaped: table.rawValue) WHERE id = \(id)")
        }
    }

    /// Upserts tool or prompt rows.
    static func writeNamed(
        _ items: [some NamedItemRecord],
        into table: ItemTable,
        gatewayID: String,
        on session: PostgresSession
    ) async throws {
        for item in items {
            try await session.run(
                """
                INSERT INTO \(unescaped: table.rawValue) (id, gateway_id, original_name, name, definition, enabled,
                    created_at)
                VALUES (\(item.id), \(gatewayID), \(item.originalName), \(item.name),
                    \(JSONValue.object(item.definition).serializedString), \(item.enabled),
                    \(item.createdAt.millisecondsSince1970))
                ON CONFLICT (id) DO UPDATE SET original_name = excluded.original_name, name = excluded.name,
                    definition = excluded.definition
                """
            )
        }
    }

    /// Replaces a server's members, in their given order (duplicates kept once, as SQLite's
    /// INSERT OR IGNORE does).
    static func writeMembers(_ server: VirtualServerRecord, on session: PostgresSession) async throws {
        for table in MemberTable.allCases {
            try await session.run("DELETE FROM \(unescaped: table.rawValue) WHERE server_id = \(server.id)")
            for (position, id) in table.ids(of: server).enumerated() {
                try await session.run(
                    """
                    INSERT INTO \(unescaped: table.rawValue) (server_id, \(unescaped: table.column), position)
                    VALUES (\(server.id), \(id), \(Int32(clamping: position)))
                    ON CONFLICT DO NOTHING
                    """
                )
            }
        }
    }
}
