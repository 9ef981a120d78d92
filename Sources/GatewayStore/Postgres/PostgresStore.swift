import Foundation
import GatewayCore
import Logging
import PostgresNIO

/// The cluster store: PostgreSQL through a pool of at most `DB_POOL_SIZE` connections
/// (postgres-nio's `PostgresClient`, whose `run()` this store owns from ``open(url:poolSize:cipher:logger:options:)``
/// to ``close()``). It behaves as the SQLite store does: the same schema versions, JSON columns,
/// encrypted credentials, conflict messages and orders. Each write is one transaction on one
/// leased connection, committed before the call returns.
public final class PostgresStore: Store {
    /// Timing beyond the URL and the pool size.
    public struct Options: Sendable {
        /// How long an operation waits for a pooled connection before it fails as `.unavailable`
        /// (postgres-nio's own pool would queue it for up to a minute while the server is down).
        public var leaseTimeout: Duration = .seconds(5)
        /// How long opening one TCP connection may take.
        public var connectTimeout: Duration = .seconds(5)

        public init() {}
    }

    let client: PostgresClient
    /// The client's `run()`: the pool's background work, cancelled by ``close()``.
    let runner: Task<Void, Never>
    let cipher: CredentialCipher
    let logger: Logger
    let options: Options
    let metrics: StoreMetrics

    /// Connects to the database named by `url` (one probe connection first, so a wrong host,
    /// port, password or database fails here with the reason) and starts the pool.
    /// - Parameters:
    ///   - url: a `postgresql://` URL (see ``DatabaseURL``); never repeated in errors or logs.
    ///   - poolSize: the most connections the pool opens.
    ///   - cipher: encrypts upstream credentials at rest.
    public static func open(
        url: String,
        poolSize: Int,
        cipher: CredentialCipher,
        logger: Logger,
        options: Options = Options()
    ) async throws -> PostgresStore {
        let config = try PostgresConnectionConfig(parsing: url)
        try await probe(config, options: options, logger: logger)
        let client = PostgresClient(
            configuration: config.clientConfiguration(poolSize: poolSize, connectTimeout: options.connectTimeout),
            backgroundLogger: logger
        )
        let runner = Task { await client.run() }
        logger.info(
            "PostgreSQL store opened",
            metadata: ["store.host": "\(config.host):\(config.port)", "store.pool_size": "\(poolSize)"]
        )
        return PostgresStore(
            client: client,
            runner: runner,
            cipher: cipher,
            logger: logger,
            options: options,
            poolSize: poolSize
        )
    }

    init(
        client: PostgresClient,
        runner: Task<Void, Never>,
        cipher: CredentialCipher,
        logger: Logger,
        options: Options,
        poolSize: Int
    ) {
        self.metrics = StoreMetrics(backend: "postgres", poolSize: poolSize)
        self.client = client
        self.runner = runner
        self.cipher = cipher
        self.logger = logger
        self.options = options
    }

    /// Opens and closes one connection, to report why the database cannot be used.
    static func probe(_ config: PostgresConnectionConfig, options: Options, logger: Logger) async throws {
        if let root = config.sslRootCertificate, !FileManager.default.isReadableFile(atPath: root) {
            throw PostgresErrors.unavailable("the sslrootcert file cannot be read")
        }
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                configuration: try config.connectionConfiguration(connectTimeout: options.connectTimeout),
                id: 0,
                logger: logger
            )
        } catch {
            let mapped = PostgresErrors.mapped(error)
            throw StoreError(mapped.code, "\(mapped.message) (\(config.host):\(config.port))")
        }
        try? await connection.close()
    }

    // MARK: - Connections

    /// Runs `body` on a pooled connection, waiting at most `leaseTimeout` for one; errors come
    /// back as ``StoreError``.
    @discardableResult
    func withSession<T: Sendable>(
        operation: String = #function,
        _ body: @escaping @Sendable (PostgresSession) async throws -> T
    ) async throws -> T {
        let lease = LeaseDeadline()
        let client = client
        let logger = logger
        let timeout = options.leaseTimeout
        let metrics = metrics
        let start = ContinuousClock.now
        defer { metrics.recordOperation(operation, since: start) }
        do {
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    try await client.withConnection { connection in
                        guard lease.claim() else { throw CancellationError() }
                        metrics.connectionLeased(waitingSince: start)
                        defer { metrics.connectionReturned() }
                        return try await body(PostgresSession(connection: connection, logger: logger))
                    }
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    guard lease.expire() else { return nil }
                    throw PostgresErrors.unavailable("no connection within \(timeout.components.seconds) s")
                }
                while let result = try await group.next() {
                    if let value = result {
                        group.cancelAll()
                        return value
                    }
                }
                throw CancellationError()
            }
        } catch let error as StoreError {
            throw error
        } catch {
            if !lease.isLeased, !(error is PSQLError) {
                throw PostgresErrors.unavailable("no connection could be made")
            }
            throw PostgresErrors.mapped(error)
        }
    }

    /// Runs `body` in one transaction on a pooled connection.
    @discardableResult
    func transaction<T: Sendable>(
        _ begin: PostgresQuery = "BEGIN",
        operation: String = #function,
        _ body: @escaping @Sendable (PostgresSession) async throws -> T
    ) async throws -> T {
        try await withSession(operation: operation) { session in try await session.transaction(begin, body) }
    }

    // MARK: - Store

    public func migrate() async throws {
        let logger = logger
        // One dedicated connection holds the advisory lock while every missing version is applied,
        // each in its own transaction: nodes starting together migrate once, one after another.
        try await withSession { session in
            try await session.run("SELECT pg_advisory_lock(\(PostgresMigrations.lockKey))")
            do {
                try await Self.applyMissingMigrations(on: session, logger: logger)
            } catch {
                do {
                    try await session.run("SELECT pg_advisory_unlock(\(PostgresMigrations.lockKey))")
                } catch {
                    // The lock ends with the session.
                    try? await session.connection.close()
                }
                throw error
            }
            try await session.run("SELECT pg_advisory_unlock(\(PostgresMigrations.lockKey))")
        }
    }

    static func applyMissingMigrations(on session: PostgresSession, logger: Logger) async throws {
        try await session.run(PostgresMigrations.createLedger)
        let applied = Set(
            try await session.run("SELECT version FROM schema_migrations").map {
                try PostgresRows.integer($0, "version")
            }
        )
        NewerSchema.warnIfNewer(
            applied.max() ?? 0,
            known: Int64(PostgresMigrations.all.last?.version ?? 0),
            logger: logger
        )
        for migration in PostgresMigrations.all where !applied.contains(Int64(migration.version)) {
            do {
                try await session.transaction { session in
                    for statement in migration.statements { try await session.run(statement) }
                    try await session.run(
                        """
                        INSERT INTO schema_migrations (version, applied_at)
                        VALUES (\(migration.version), \(Timestamp.now().millisecondsSince1970))
                        """
                    )
                }
            } catch {
                let reason = PostgresErrors.mapped(error).message
                throw StoreError(.migrationFailed, "schema version \(migration.version) failed: \(reason)")
            }
            logger.info("applied migration", metadata: ["store.migration": "\(migration.version)"])
        }
    }

    public func ping() async throws {
        try await withSession { session in try await session.run("SELECT 1") }
    }

    public func close() async throws {
        runner.cancel()
        await runner.value
    }

    public func loadCatalog() async throws -> CatalogContents {
        let cipher = cipher
        // One snapshot for every table, as SQLite's single transaction gives.
        return try await transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { session in
            var contents = CatalogContents()
            // COLLATE "C": text orders by bytes, as SQLite does, whatever the database's locale.
            for row in try await session.run(#"SELECT * FROM gateways ORDER BY created_at, id COLLATE "C""#) {
                contents.gateways.append(try PostgresRows.gateway(row, cipher: cipher))
            }
            for row in try await session.run(#"SELECT * FROM tools ORDER BY created_at, name COLLATE "C""#) {
                contents.tools.append(try PostgresRows.named(row, as: ToolRecord.self))
            }
            for row in try await session.run(#"SELECT * FROM resources ORDER BY created_at, uri COLLATE "C""#) {
                contents.resources.append(try PostgresRows.resource(row))
            }
            for row in try await session.run(
                #"SELECT * FROM resource_templates ORDER BY created_at, uri_template COLLATE "C""#
            ) {
                contents.resourceTemplates.append(try PostgresRows.template(row))
            }
            for row in try await session.run(#"SELECT * FROM prompts ORDER BY created_at, name COLLATE "C""#) {
                contents.prompts.append(try PostgresRows.named(row, as: PromptRecord.self))
            }
            var members: [String: (tools: [String], resources: [String], prompts: [String])] = [:]
            for row in try await session.run("SELECT server_id, tool_id FROM server_tools ORDER BY position") {
                members[try PostgresRows.text(row, "server_id"), default: ([], [], [])].tools.append(
                    try PostgresRows.text(row, "tool_id")
                )
            }
            for row in try await session.run("SELECT server_id, resource_id FROM server_resources ORDER BY position") {
                members[try PostgresRows.text(row, "server_id"), default: ([], [], [])].resources.append(
                    try PostgresRows.text(row, "resource_id")
                )
            }
            for row in try await session.run("SELECT server_id, prompt_id FROM server_prompts ORDER BY position") {
                members[try PostgresRows.text(row, "server_id"), default: ([], [], [])].prompts.append(
                    try PostgresRows.text(row, "prompt_id")
                )
            }
            for row in try await session.run(#"SELECT * FROM servers ORDER BY created_at, id COLLATE "C""#) {
                var server = try PostgresRows.server(row)
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
        let auth = try StoredCredentials.seal(gateway.auth, cipher: cipher)
        let command = try gateway.command.map { try StoredCredentials.seal($0, cipher: cipher) }
        try await transaction { session in
            try await session.run(
                """
                INSERT INTO gateways (id, name, slug, url, description, transport, enabled, reachable, capabilities,
                    protocol_version, auth, created_at, updated_at, last_seen, command, sync_interval)
                VALUES (\(gateway.id), \(gateway.name), \(gateway.slug), \(gateway.url), \(gateway.description),
                    \(gateway.transport.rawValue), \(gateway.enabled), \(gateway.reachable),
                    \(gateway.capabilities.serializedString), \(gateway.protocolVersion), \(auth),
                    \(gateway.createdAt.millisecondsSince1970), \(gateway.updatedAt.millisecondsSince1970),
                    \(gateway.lastSeen?.millisecondsSince1970), \(command), \(gateway.syncInterval.map(Int32.init)))
                """
            )
            try await PostgresItemWriter.writeItems(items, gatewayID: gateway.id, on: session)
        }
    }

    public func updateGateway(_ gateway: GatewayRecord, items: GatewayItems?) async throws {
        let cipher = cipher
        try await transaction { session in
            try await PostgresItemWriter.rewriteGateway(gateway, items: items, cipher: cipher, on: session)
        }
    }

    public func updateGateway(_ gateway: GatewayRecord, items: GatewayItems?, fencingEpoch epoch: Int64) async throws {
        let cipher = cipher
        try await transaction { session in
            // The UPDATE locks the fence row until this transaction ends: a concurrent writer with
            // another epoch waits, then re-checks its condition against the committed epoch.
            guard try await Self.advanceFence(to: epoch, on: session) else { throw StoreError.fenced(epoch) }
            try await PostgresItemWriter.rewriteGateway(gateway, items: items, cipher: cipher, on: session)
        }
    }

    public func updateGateway(
        _ gateway: GatewayRecord,
        items: GatewayItems?,
        ifUnchangedSince basis: Timestamp,
        fencingEpoch epoch: Int64?
    ) async throws -> Bool {
        let cipher = cipher
        return try await transaction { session in
            if let epoch, try await !Self.advanceFence(to: epoch, on: session) { throw StoreError.fenced(epoch) }
            // FOR UPDATE: an operator's write waits for this one (or this one sees theirs).
            let current = try await session.run(
                "SELECT updated_at FROM gateways WHERE id = \(gateway.id) FOR UPDATE"
            )
            guard let row = current.first, try PostgresRows.timestamp(row, "updated_at") == basis else { return false }
            try await PostgresItemWriter.rewriteGateway(gateway, items: items, cipher: cipher, on: session)
            return true
        }
    }

    public func fencingEpoch() async throws -> Int64 {
        try await withSession { session in
            let rows = try await session.run("SELECT epoch FROM cluster_fence WHERE id = 1")
            return try rows.first?["epoch"].decode(Int64.self) ?? 0
        }
    }

    public func gatewayIdentity(proposing proposal: String) async throws -> String {
        try await transaction { session in
            let now = Timestamp.now().millisecondsSince1970
            try await session.run(
                """
                INSERT INTO deployment (id, gateway_id, created_at) VALUES (1, \(proposal), \(now))
                ON CONFLICT (id) DO NOTHING
                """
            )
            let rows = try await session.run("SELECT gateway_id FROM deployment WHERE id = 1")
            return try rows.first?["gateway_id"].decode(String.self) ?? proposal
        }
    }

    public func claimFencingEpoch(_ epoch: Int64) async throws -> Bool {
        try await transaction { session in try await Self.advanceFence(to: epoch, on: session) }
    }

    /// Records `epoch` as the newest fencing epoch unless a newer one is recorded (inside the
    /// caller's transaction, whose fence row it then holds locked); returns whether it was recorded.
    static func advanceFence(to epoch: Int64, on session: PostgresSession) async throws -> Bool {
        let rows = try await session.run(
            "UPDATE cluster_fence SET epoch = \(epoch) WHERE id = 1 AND epoch <= \(epoch) RETURNING epoch"
        )
        return !rows.isEmpty
    }

    public func deleteGateway(id: String) async throws -> Bool {
        try await transaction { session in
            !(try await session.run("DELETE FROM gateways WHERE id = \(id) RETURNING id")).isEmpty
        }
    }

    public func insertServer(_ server: VirtualServerRecord) async throws {
        try await transaction { session in
            try await session.run(
                """
                INSERT INTO servers (id, name, description, icon, enabled, created_at, updated_at)
                VALUES (\(server.id), \(server.name), \(server.description), \(server.icon), \(server.enabled),
                    \(server.createdAt.millisecondsSince1970), \(server.updatedAt.millisecondsSince1970))
                """
            )
            try await PostgresItemWriter.writeMembers(server, on: session)
        }
    }

    public func updateServer(_ server: VirtualServerRecord) async throws {
        try await transaction { session in
            try await session.run(
                """
                UPDATE servers SET name = \(server.name), description = \(server.description), icon = \(server.icon),
                    enabled = \(server.enabled), created_at = \(server.createdAt.millisecondsSince1970),
                    updated_at = \(server.updatedAt.millisecondsSince1970)
                WHERE id = \(server.id)
                """
            )
            try await PostgresItemWriter.writeMembers(server, on: session)
        }
    }

    public func deleteServer(id: String) async throws -> Bool {
        try await transaction { session in
            !(try await session.run("DELETE FROM servers WHERE id = \(id) RETURNING id")).isEmpty
        }
    }
}
