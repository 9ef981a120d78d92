import PostgresNIO

/// Versioned schema changes for the PostgreSQL store: the SQLite store's versions, in PostgreSQL
/// types. Flags are BOOLEAN, times BIGINT milliseconds since 1970, JSON TEXT (kept byte for byte,
/// so member order survives as it does in SQLite).
enum PostgresMigrations {
    /// The session-level advisory lock that serialises migrations across nodes ("mcpgw" + 1).
    static let lockKey: Int64 = 0x6D63_7067_7701

    static let createLedger: PostgresQuery = """
        CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)
        """

    /// `(version, statements)`; never edit a published version, add a new one.
    static let all: [(version: Int32, statements: [PostgresQuery])] = [
        (
            1,
            [
                """
                CREATE TABLE gateways (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, slug TEXT NOT NULL UNIQUE, url TEXT NOT NULL,
                    description TEXT, transport TEXT NOT NULL, enabled BOOLEAN NOT NULL, reachable BOOLEAN NOT NULL,
                    capabilities TEXT NOT NULL, protocol_version TEXT, auth TEXT NOT NULL,
                    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, last_seen BIGINT)
                """,
                """
                CREATE TABLE tools (
                    id TEXT PRIMARY KEY, gateway_id TEXT NOT NULL REFERENCES gateways(id) ON DELETE CASCADE,
                    original_name TEXT NOT NULL, name TEXT NOT NULL UNIQUE, definition TEXT NOT NULL,
                    enabled BOOLEAN NOT NULL, created_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE resources (
                    id TEXT PRIMARY KEY, gateway_id TEXT NOT NULL REFERENCES gateways(id) ON DELETE CASCADE,
                    uri TEXT NOT NULL, definition TEXT NOT NULL, enabled BOOLEAN NOT NULL,
                    created_at BIGINT NOT NULL, UNIQUE (gateway_id, uri))
                """,
                """
                CREATE TABLE resource_templates (
                    id TEXT PRIMARY KEY, gateway_id TEXT NOT NULL REFERENCES gateways(id) ON DELETE CASCADE,
                    uri_template TEXT NOT NULL, definition TEXT NOT NULL, created_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE prompts (
                    id TEXT PRIMARY KEY, gateway_id TEXT NOT NULL REFERENCES gateways(id) ON DELETE CASCADE,
                    original_name TEXT NOT NULL, name TEXT NOT NULL UNIQUE, definition TEXT NOT NULL,
                    enabled BOOLEAN NOT NULL, created_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE servers (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT, icon TEXT,
                    enabled BOOLEAN NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE server_tools (
                    server_id TEXT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
                    tool_id TEXT NOT NULL REFERENCES tools(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL, PRIMARY KEY (server_id, tool_id))
                """,
                """
                CREATE TABLE server_resources (
                    server_id TEXT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
                    resource_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL, PRIMARY KEY (server_id, resource_id))
                """,
                """
                CREATE TABLE server_prompts (
                    server_id TEXT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
                    prompt_id TEXT NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL, PRIMARY KEY (server_id, prompt_id))
                """,
                "CREATE INDEX tools_gateway ON tools(gateway_id)",
                "CREATE INDEX resources_gateway ON resources(gateway_id)",
                "CREATE INDEX templates_gateway ON resource_templates(gateway_id)",
                "CREATE INDEX prompts_gateway ON prompts(gateway_id)",
            ]
        ),
        // Stdio upstreams: the process to run, as {"command", "args", "env"} (encrypted).
        (2, ["ALTER TABLE gateways ADD COLUMN command TEXT"]),
        // API tokens (their records, never the tokens) and the audit log.
        (
            3,
            [
                """
                CREATE TABLE api_tokens (
                    id TEXT PRIMARY KEY, subject TEXT NOT NULL, name TEXT NOT NULL, description TEXT, server_id TEXT,
                    created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, revoked_at BIGINT)
                """,
                "CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens(subject, name) WHERE revoked_at IS NULL",
                "CREATE INDEX api_tokens_revoked ON api_tokens(expires_at) WHERE revoked_at IS NOT NULL",
                """
                CREATE TABLE audit_log (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL,
                    action TEXT NOT NULL, target_type TEXT, target_id TEXT, outcome TEXT NOT NULL, client_ip TEXT,
                    detail TEXT)
                """,
                "CREATE INDEX audit_log_at ON audit_log(at)",
            ]
        ),
        // Fencing for leader-only writes: the newest leader epoch any write has carried.
        (
            4,
            [
                "CREATE TABLE cluster_fence (id INTEGER PRIMARY KEY CHECK (id = 1), epoch BIGINT NOT NULL)",
                "INSERT INTO cluster_fence (id, epoch) VALUES (1, 0)",
            ]
        ),
        // Token lineage: the token that minted each one, revoked with it.
        (
            5,
            [
                "ALTER TABLE api_tokens ADD COLUMN parent_id TEXT",
                "CREATE INDEX api_tokens_parent ON api_tokens(parent_id)",
            ]
        ),
        // Federation: the deployment's gateway id (one row, written once by whichever node gets
        // there first), and a per-upstream re-listing interval.
        (
            6,
            [
                "CREATE TABLE deployment (id INTEGER PRIMARY KEY CHECK (id = 1), gateway_id TEXT NOT NULL, created_at BIGINT NOT NULL)",
                "ALTER TABLE gateways ADD COLUMN sync_interval INTEGER",
            ]
        ),
    ]
}
