import GatewayApp
import GatewayStore
import Logging
import Testing

@Suite struct ConfigurationTests {
    @Test func defaultsMatchTheDocumentation() throws {
        let configuration = try GatewayConfiguration(values: [:])
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 4444)
        #expect(configuration.database == .sqlite(path: "./data/mcp.db"))
        #expect(configuration.authRequired)
        #expect(configuration.toolNameSeparator == "-")
        #expect(configuration.jwtSecretKey == nil)
        #expect(configuration.encryptionSecret == nil)
        #expect(configuration.dataDirectory == "./data")
        #expect(configuration.webSocketEnabled == false)
        #expect(configuration.keepAliveIntervalSeconds == 15)
        #expect(configuration.streamQueueSize == 1024)
        #expect(configuration.inputRequiredMaxRounds == 10)
        #expect(configuration.upstreamPrefersStateless == false)
    }

    @Test func readsTheEraKnobs() throws {
        let configuration = try GatewayConfiguration(values: [
            "INPUT_REQUIRED_MAX_ROUNDS": "3", "UPSTREAM_PREFERRED_PROTOCOL_VERSION": "2026-07-28",
        ])
        #expect(configuration.inputRequiredMaxRounds == 3)
        #expect(configuration.upstreamPrefersStateless)
    }

    @Test func readsContextForgeNames() throws {
        let configuration = try GatewayConfiguration(values: [
            "HOST": "0.0.0.0", "PORT": "8080", "DATABASE_URL": "sqlite:////var/lib/gw/db.sqlite",
            "JWT_SECRET_KEY": String(repeating: "k", count: 32), "AUTH_REQUIRED": "false",
            "GATEWAY_TOOL_NAME_SEPARATOR": "--", "LOG_LEVEL": "DEBUG", "TOOL_TIMEOUT": "5",
        ])
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.port == 8080)
        #expect(configuration.database == .sqlite(path: "/var/lib/gw/db.sqlite"))
        #expect(configuration.dataDirectory == "/var/lib/gw")
        #expect(configuration.authRequired == false)
        #expect(configuration.toolNameSeparator == "--")
        #expect(configuration.logLevel == .debug)
        #expect(configuration.toolTimeoutSeconds == 5)
    }

    @Test(arguments: [
        ["PORT": "0"], ["PORT": "http"], ["PORT": "70000"], ["JWT_SECRET_KEY": "short"],
        ["GATEWAY_TOOL_NAME_SEPARATOR": "::"], ["LOG_LEVEL": "loud"], ["AUTH_REQUIRED": "maybe"],
        ["DATABASE_URL": "mysql://x"], ["DATABASE_URL": "sqlite://relative.db"], ["TOOL_TIMEOUT": "-1"],
        ["HOST": ""], ["AUTH_ENCRYPTION_SECRET": "short"], ["AUTH_ENCRYPTION_SECRET_PREVIOUS": "short"],
        ["MCP_STREAM_QUEUE_SIZE": "1"], ["SSE_KEEPALIVE_INTERVAL": "0"], ["MCPGATEWAY_WS_RELAY_ENABLED": "perhaps"],
        ["MCP_REPLAY_BUFFER_EVENTS": "0"], ["STDIO_ENV_ALLOWLIST": "PATH,1BAD"], ["RATE_LIMITING_ENABLED": "often"],
        ["MCP_REPLAY_BUFFER_BYTES": "8388608", "MCP_REPLAY_BUFFER_TOTAL_BYTES": "4194304"],
        ["MCP_STREAM_QUEUE_BYTES": "1024"], ["MCP_MAX_SUBSCRIPTIONS_PER_SESSION": "0"], ["RECONCILE_INTERVAL": "0"],
        ["REDIS_URL": "rediss://127.0.0.1:6379", "REDIS_TLS_CA_FILE": "/nonexistent/ca.pem"],
        ["INPUT_REQUIRED_MAX_ROUNDS": "0"], ["UPSTREAM_PREFERRED_PROTOCOL_VERSION": "2026"],
    ])
    func refusesInvalidValuesWithOneLine(_ values: [String: String]) {
        do {
            _ = try GatewayConfiguration(values: values)
            Issue.record("accepted \(values)")
        } catch {
            #expect(!error.description.contains("\n"))
            #expect(!error.description.isEmpty)
        }
    }

    @Test func secretsNeverAppearInTheDescription() throws {
        let secret = String(repeating: "s", count: 40)
        let configuration = try GatewayConfiguration(values: [
            "JWT_SECRET_KEY": secret, "AUTH_ENCRYPTION_SECRET": secret,
        ])
        #expect(!configuration.description.contains(secret))
    }

    @Test func postgresURLsAreRecognised() throws {
        #expect(try DatabaseURL.parse("postgresql://u:p@h:5432/db") == .postgres(url: "postgresql://u:p@h:5432/db"))
        #expect(try DatabaseURL.parse("sqlite:///data/x.db") == .sqlite(path: "data/x.db"))
    }
}
