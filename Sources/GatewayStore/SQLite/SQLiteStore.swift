import GatewayCore
import Logging
import NIOCore
import SQLiteNIO

/// The embedded store: one SQLite file, one connection, writes serialised by an async lock so a
/// transaction's statements never interleave with another task's.
public actor SQLiteStore: Store {
    let connection: SQLiteConnection
    let logger: Logger
    let cipher: CredentialCipher
    let metrics = StoreMetrics(backend: "sqlite", poolSize: 1)
    private var locked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// Opens (creating if needed) the database file at `path`; upstream credentials are stored
    /// encrypted with `cipher`.
    public static func open(path: String, cipher: CredentialCipher, logger: Logger) async throws -> SQLiteStore {
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
            _ = try await connection.query("PRAGMA journal_mode=WAL")
            _ = try await connection.query("PRAGMA foreign_keys=ON")
            _ = try await connection.query("PRAGMA busy_timeout=5000")
            _ = try await connection.query("PRAGMA synchronous=NORMAL")
        } catch {
            throw StoreError(.unavailable, "cannot open the SQLite database file")
        }
        return SQLiteStore(connection: connection, cipher: cipher, logger: logger)
    }

    init(connection: SQLiteConnection, cipher: CredentialCipher, logger: Logger) {
        self.connection = connection
        self.cipher = cipher
        self.logger = logger
    }

    // MARK: - Serialisation

    private func lock() async {
        if !locked {
            locked = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func unlock() {
        if waiters.isEmpty {
            locked = false
        } else {
            waiters.removeFirst().resume()
        }
    }

    /// Runs `body` holding the lock, inside a transaction when `transaction` is set; measured as
    /// `operation` (the calling store method).
    func exclusive<T: Sendable>(
        transaction: Bool,
        operation: String = #function,
        _ body: (SQLiteConnection) async throws -> T
    ) async throws -> T {
        let start = ContinuousClock.now
        await lock()
        metrics.connectionLeased(waitingSince: start)
        defer {
            unlock()
            metrics.connectionReturned()
            metrics.recordOperation(operation, since: start)
        }
        if transaction { _ = try await connection.query("BEGIN IMMEDIATE") }
        do {
            let value = try await body(connection)
            if transaction { _ = try await connection.query("COMMIT") }
            return value
        } catch {
            if transaction { _ = try? await connection.query("ROLLBACK") }
            throw Self.mapped(error)
        }
    }

    static func mapped(_ error: any Error) -> any Error {
        if error is StoreError { return error }
        if let sqlite = error as? SQLiteError {
            if [.constraint, .constraintUniqueFailed, .constraintPrimaryKeyFailed].contains(sqlite.reason) {
                return StoreError(.conflict, "a name or id is already in use")
            }
            return StoreError(.unavailable, "SQLite error (\(sqlite.reason))")
        }
        return StoreError(.unavailable, "SQLite operation failed")
    }

    // MARK: - Store

    public func migrate() async throws {
        try await exclusive(transaction: true) { connection in
            _ = try await connection.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
            )
            let rows = try await connection.query("SELECT MAX(version) AS version FROM schema_migrations")
            let current = rows.first?.column("version")?.integer ?? 0
            NewerSchema.warnIfNewer(
                Int64(current),
                known: Int64(SQLiteMigrations.all.last?.version ?? 0),
                logger: logger
            )
            for migration in SQLiteMigrations.all where migration.version > current {
                for statement in migration.statements { _ = try await connection.query(statement) }
                _ = try await connection.query(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    [.integer(migration.version), .integer(Int(Timestamp.now().millisecondsSince1970))]
                )
                logger.info("applied migration", metadata: ["store.migration": "\(migration.version)"])
            }
        }
    }

    public func ping() async throws {
        _ = try await exclusive(transaction: false) { try await $0.query("SELECT 1") }
    }

    public func close() async throws {
        try await connection.close()
    }

    public func loadCatalog() async throws -> CatalogContents {
        try await exclusive(transaction: true) { connection in
            var contents = CatalogContents()
            for row in try await connection.query("SELECT * FROM gateways ORDER BY created_at, id") {
                contents.gateways.append(try SQLiteRows.gateway(row, cipher: cipher))
            }
            for row in try await connection.query("SELECT * FROM tools ORDER BY created_at, name") {
                contents.tools.append(try SQLiteRows.named(row, as: ToolRecord.self))
            }
            for row in try await connection.query("SELECT * FROM resources ORDER BY created_at, uri") {
                contents.resources.append(try SQLiteRows.resource(row))
            }
            for row in try await connection.query("SELECT * FROM resource_templates ORDER BY created_at, uri_template")
            {
                contents.resourceTemplates.append(try SQLiteRows.template(row))
            }
            for row in try await connection.query("SELECT * FROM prompts ORDER BY created_at, name") {
                contents.prompts.append(try SQLiteRows.named(row, as: PromptRecord.self))
            }
            var members: [String: (tools: [String], resources: [String], prompts: [String])] = [:]
            for row in try await connection.query("SELECT server_id, tool_id FROM server_tools ORDER BY position") {
                members[row.column("server_id")?.string ?? "", default: ([], [], [])].tools.append(
                    row.column("tool_id")?.string ?? ""
                )
            }
            for row in try await connection.query(
                "SELECT server_id, resource_id FROM server_resources ORDER BY position"
            ) {
                members[row.column("server_id")?.string ?? "", default: ([], [], [])].resources.append(
                    row.column("resource_id")?.string ?? ""
                )
            }
            for row in try await connection.query("SELECT server_id, prompt_id FROM server_prompts ORDER BY position") {
                members[row.column("server_id")?.string ?? "", default: ([], [], [])].prompts.append(
                    row.column("prompt_id")?.string ?? ""
                )
            }
            for row in try await connection.query("SELECT * FROM servers ORDER BY created_at, id") {
                var server = try SQLiteRows.server(row)
                let serverMembers = members[server.id] ?? ([], [], [])
                server.toolIDs = serverMembers.tools
                server.resourceIDs = serverMembers.resources
                server.promptIDs = serverMembers.prompts
                contents.servers.append(server)
            }
            return contents
        }
    }

    public func insertGateway(_ gateway: GatewayRecord, items: GatewayItems) async throws {
        try await exclusive(transaction: true) { connection in
            _ = try await connection.query(
                """
                INSERT INTO gateways (id, name, slug, url, description, transport, enabled, reachable, capabilities,
                    protocol_version, auth, created_at, updated_at, last_seen, command, sync_interval)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                try SQLiteRows.gatewayBinds(gateway, cipher: cipher)
            )
            try await Self.writeItems(items, gatewayID: gateway.id, on: connection)
        }
    }

    public func updateGateway(_ gateway: GatewayRecord, items: GatewayItems?) async throws {
        try await exclusive(transaction: true) { connection in
            try await Self.rewriteGateway(gateway, items: items, cipher: cipher, on: connection)
        }
    }

    public func updateGateway(_ gateway: GatewayRecord, items: GatewayItems?, fencingEpoch epoch: Int64) async throws {
        try await exclusive(transaction: true) { connection in
            // The one writer at a time (BEGIN IMMEDIATE) makes check and record one step.
            guard try await Self.advanceFence(to: epoch, on: connection) else { throw StoreError.fenced(epoch) }
            try await Self.rewriteGateway(gateway, items: items, cipher: cipher, on: connection)
        }
    }

    public func updateGateway(
        _ gateway: GatewayRecord,
        items: GatewayItems?,
        ifUnchangedSince basis: Timestamp,
        fencingEpoch epoch: Int64?
    ) async throws -> Bool {
        try await exclusive(transaction: true) { connection in
            if let epoch, try await !Self.advanceFence(to: epoch, on: connection) { throw StoreError.fenced(epoch) }
            let current = try await connection.query(
                "SELECT updated_at FROM gateways WHERE id = ?1",
                [.text(gateway.id)]
            )
            guard let row = current.first, SQLiteRows.timestamp(row, "updated_at") == basis else { return false }
            try await Self.rewriteGateway(gateway, items: items, cipher: cipher, on: connection)
            return true
        }
    }

    public func fencingEpoch() async throws -> Int64 {
        try await exclusive(transaction: false) { connection in
            let rows = try await connection.query("SELECT epoch FROM cluster_fence WHERE id = 1")
            return rows.first.map { SQLiteRows.integer($0, "epoch") } ?? 0
        }
    }

    public func gatewayIdentity(proposing proposal: String) async throws -> String {
        try await exclusive(transaction: true) { connection in
            _ = try await connection.query(
                "INSERT INTO deployment (id, gateway_id, created_at) VALUES (1, ?1, ?2) ON CONFLICT (id) DO NOTHING",
                [.text(proposal), .integer(Int(Timestamp.now().millisecondsSince1970))]
            )
            let rows = try await connection.query("SELECT gateway_id FROM deployment WHERE id = 1")
            return try rows.first.map { try SQLiteRows.text($0, "gateway_id") } ?? proposal
        }
    }

    public func claimFencingEpoch(_ epoch: Int64) async throws -> Bool {
        try await exclusive(transaction: true) { connection in try await Self.advanceFence(to: epoch, on: connection) }
    }

    /// Records `epoch` as the newest fencing epoch unless a newer one is recorded (inside the
    /// caller's transaction); returns whether it was recorded.
    static func advanceFence(to epoch: Int64, on connection: SQLiteConnection) async throws -> Bool {
        let rows = try await connection.query(
            "UPDATE cluster_fence SET epoch = ?1 WHERE id = 1 AND epoch <= ?1 RETURNING epoch",
            [.integer(Int(epoch))]
        )
        return !rows.isEmpty
    }

    /// Replaces a gateway's row and, when `items` is given, its items (inside the caller's transaction).
    static func rewriteGateway(
        _ gateway: GatewayRecord,
        items: GatewayItems?,
        cipher: CredentialCipher,
        on connection: SQLiteConnection
    ) async throws {
        _ = try await connection.query(
            """
            UPDATE gateways SET name = ?2, slug = ?3, url = ?4, description = ?5, transport = ?6, enabled = ?7,
                reachable = ?8, capabilities = ?9, protocol_version = ?10, auth = ?11, created_at = ?12,
                updated_at = ?13, last_seen = ?14, command = ?15, sync_interval = ?16
            WHERE id = ?1
            """,
            try SQLiteRows.gatewayBinds(gateway, cipher: cipher)
        )
        if let items { try await writeItems(items, gatewayID: gateway.id, on: connection) }
    }

    /// Replaces a gateway's items, keeping rows (and so memberships) whose ids survive.
    static func writeItems(_ items: GatewayItems, gatewayID: String, on connection: SQLiteConnection) async throws {
        func prune(_ table: String, keeping ids: [String]) async throws {
            let existing = try await connection.query(
                "SELECT id FROM \(table) WHERE gateway_id = ?",
                [.text(gatewayID)]
            )
            let keep = Set(ids)
            for row in existing {
                guard let id = row.column("id")?.string, !keep.contains(id) else { continue }
                _ = try await connection.query("DELETE FROM \(table) WHERE id = ?", [.text(id)])
            }
        }
        try await prune("tools", keeping: items.tools.map(\.id))
        try await prune("resources", keeping: items.resources.map(\.id))
        try await prune("resource_templates", keeping: [])
        try await prune("prompts", keeping: items.prompts.map(\.id))
        try await writeNamed(items.tools, into: "tools", gatewayID: gatewayID, on: connection)
        try await writeNamed(items.prompts, into: "prompts", gatewayID: gatewayID, on: connection)
        for resource in items.resources {
            _ = try await connection.query(
                """
                INSERT INTO resources (id, gateway_id, uri, definition, enabled, created_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET uri = excluded.uri, definition = excluded.definition
                """,
                [
                    .text(resource.id), .text(gatewayID), .text(resource.uri),
                    .text(JSONValue.object(resource.definition).serializedString), .integer(resource.enabled ? 1 : 0),
                    .integer(Int(resource.createdAt.millisecondsSince1970)),
                ]
            )
        }
        for template in items.resourceTemplates {
            _ = try await connection.query(
                "INSERT INTO resource_templates (id, gateway_id, uri_template, definition, created_at) VALUES (?, ?, ?, ?, ?)",
                [
                    .text(template.id), .text(gatewayID), .text(template.uriTemplate),
                    .text(JSONValue.object(template.definition).serializedString),
                    .integer(Int(template.createdAt.millisecondsSince1970)),
                ]
            )
        }
    }

    /// Upserts tool or prompt rows (`table` is one of the two fixed names, never input).
    static func writeNamed(
        _ items: [some NamedItemRecord],
        into table: StaticString,
        gatewayID: String,
        on connection: SQLiteConnection
    ) async throws {
        for item in items {
            _ = try await connection.query(
                """
                INSERT INTO \(table) (id, gateway_id, original_name, name, definition, enabled, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET original_name = excluded.original_name, name = excluded.name,
                    definition = excluded.definition
                """,
                [
                    .text(item.id), .text(gatewayID), .text(item.originalName), .text(item.name),
                    .text(JSONValue.object(item.definition).serializedString), .integer(item.enabled ? 1 : 0),
                    .integer(Int(item.createdAt.millisecondsSince1970)),
                ]
            )
        }
    }

    public func deleteGateway(id: String) async throws -> Bool {
        try await exclusive(transaction: true) { connection in
            let rows = try await connection.query("SELECT id FROM gateways WHERE id = ?", [.text(id)])
            guard !rows.isEmpty else { return false }
            _ = try await connection.query("DELETE FROM gateways WHERE id = ?", [.text(id)])
            return true
        }
    }

    public func insertServer(_ server: VirtualServerRecord) async throws {
        try await exclusive(transaction: true) { connection in
            _ = try await connection.query(
                """
                INSERT INTO servers (id, name, description, icon, enabled, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
                SQLiteRows.serverBinds(server)
            )
            try await Self.writeMembers(server, on: connection)
        }
    }

    public func updateServer(_ server: VirtualServerRecord) async throws {
        try await exclusive(transaction: true) { connection in
            _ = try await connection.query(
                """
                UPDATE servers SET name = ?2, description = ?3, icon = ?4, enabled = ?5, created_at = ?6,
                    updated_at = ?7 WHERE id = ?1
                """,
                SQLiteRows.serverBinds(server)
            )
            try await Self.writeMembers(server, on: connection)
        }
    }

    static func writeMembers(_ server: VirtualServerRecord, on connection: SQLiteConnection) async throws {
        for (table, column, ids) in [
            ("server_tools", "tool_id", server.toolIDs), ("server_resources", "resource_id", server.resourceIDs),
            ("server_prompts", "prompt_id", server.promptIDs),
        ] {
            _ = try await connection.query("DELETE FROM \(table) WHERE server_id = ?", [.text(server.id)])
            for (position, id) in ids.enumerated() {
                _ = try await connection.query(
                    "INSERT OR IGNORE INTO \(table) (server_id, \(column), position) VALUES (?, ?, ?)",
                    [.text(server.id), .text(id), .integer(position)]
                )
            }
        }
    }

    public func deleteServer(id: String) async throws -> Bool {
        try await exclusive(transaction: true) { connection in
            let rows = try await connection.query("SELECT id FROM servers WHERE id = ?", [.text(id)])
            guard !rows.isEmpty else { return false }
            _ = try await connection.query("DELETE FROM servers WHERE id = ?", [.text(id)])
            return true
        }
    }
}
