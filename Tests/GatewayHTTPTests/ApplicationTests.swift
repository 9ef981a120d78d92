import Foundation
import GatewayApp
import GatewayAuth
import GatewayCore
import GatewayHTTP
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// Routes of the production application (built by `buildApplication`) on a temporary SQLite file.
@Suite struct ApplicationTests {
    static let secret = String(repeating: "test-secret-", count: 4)

    func withApp(_ body: @Sendable (any TestClientProtocol, String) async throws -> Void) async throws {
        var configuration = try GatewayConfiguration(values: [
            "DATABASE_URL": "sqlite:///" + NSTemporaryDirectory() + "app-\(UUID().uuidString).db",
            "JWT_SECRET_KEY": Self.secret, "LOG_LEVEL": "error",
        ])
        configuration.port = 0
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let app = try await buildApplication(configuration: configuration, logger: logger)
        let token = try await TokenAuthority(secret: Self.secret).issue(subject: "tester", lifetime: .seconds(300))
            .token
        try await app.test(.router) { client in try await body(client, token) }
    }

    static func json(_ buffer: ByteBuffer) throws -> JSONValue {
        try JSONScanner.parse(Array(buffer.readableBytesView))
    }

    /// The bearer token, and JSON as the body's type (REST writes take `application/json` only).
    static func auth(_ token: String, _ extra: HTTPFields = [:]) -> HTTPFields {
        var fields = extra
        fields[.authorization] = "Bearer \(token)"
        if fields[.contentType] == nil { fields[.contentType] = "application/json" }
        return fields
    }

    @Test func probesNeedNoTokenButEverythingElseDoes() async throws {
        try await withApp { client, token in
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/ready", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/tools", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
                #expect(response.headers[.contentType] == "application/problem+json")
                let body = try Self.json(response.body)
                #expect(body["status"] == 401)
            }
            try await client.execute(uri: "/mcp", method: .post, body: ByteBuffer(string: "{}")) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(uri: "/v1/version", method: .get, headers: Self.auth(token)) { response in
                #expect(response.status == .ok)
                let body = try Self.json(response.body)
                #expect(body["app"]?["version"]?.stringValue == gatewayVersion)
            }
        }
    }

    @Test func badRegistrationsAreProblemsThatChangeNothing() async throws {
        try await withApp { client, token in
            let cases: [(String, HTTPResponse.Status, String?)] = [
                ("{not json", .badRequest, nil),
                ("[1]", .badRequest, nil),
                (#"{"name":"x"}"#, .unprocessableContent, "url"),
                (#"{"url":"http://127.0.0.1:1/mcp"}"#, .unprocessableContent, "name"),
                (#"{"name":"x","url":"ftp://h/x"}"#, .unprocessableContent, "url"),
                (#"{"name":"x","url":"javascript:alert(1)"}"#, .unprocessableContent, "url"),
                (#"{"name":"x","url":"http://127.0.0.1:1/mcp","transport":"FOO"}"#, .unprocessableContent, "transport"),
                (#"{"name":"","url":"http://127.0.0.1:1/mcp"}"#, .unprocessableContent, "name"),
                (#"{"name":7,"url":"http://127.0.0.1:1/mcp"}"#, .unprocessableContent, "name"),
                (
                    #"{"name":"x","url":"http://127.0.0.1:1/mcp","auth_type":"bearer"}"#, .unprocessableContent,
                    "auth_token"
                ),
                // Loopback is refused by the SSRF guard unless SSRF_ALLOW_LOCALHOST is set.
                (#"{"name":"x","url":"http://127.0.0.1:1/mcp"}"#, .unprocessableContent, "url"),
            ]
            for (body, status, field) in cases {
                try await client.execute(
                    uri: "/gateways",
                    method: .post,
                    headers: Self.auth(token),
                    body: ByteBuffer(string: body)
                ) { response in
                    #expect(response.status == status, "\(body)")
                    let problem = try Self.json(response.body)
                    #expect(problem["status"]?.intValue == Int64(status.code))
                    #expect(problem["title"]?.stringValue?.isEmpty == false)
                    if let field { #expect(problem["field"]?.stringValue == field, "\(body)") }
                }
            }
            try await client.execute(uri: "/gateways?include_inactive=true", method: .get, headers: Self.auth(token)) {
                let body = try Self.json($0.body)
                #expect(body == [])
            }
            try await client.execute(uri: "/gateways/nope", method: .get, headers: Self.auth(token)) {
                #expect($0.status == .notFound)
            }
            try await client.execute(uri: "/servers/nope", method: .delete, headers: Self.auth(token)) {
                #expect($0.status == .notFound)
            }
        }
    }

    @Test func statefulSessionsAreIssuedEnforcedAndEnded() async throws {
        try await withApp { client, token in
            let initialize =
                #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#
            let accept: HTTPFields = [.accept: "application/json, text/event-stream", .contentType: "application/json"]
            var sessionID = ""
            try await client.execute(
                uri: "/mcp",
                method: .post,
                headers: Self.auth(token, accept),
                body: ByteBuffer(string: initialize)
            ) { response in
                #expect(response.status == .ok)
                sessionID = try #require(response.headers[HTTPField.Name("Mcp-Session-Id")!])
                let body = try Self.json(response.body)
                #expect(body["result"]?["protocolVersion"] == "2025-06-18")
            }
            let list = #"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#
            var withSession = Self.auth(token, accept)
            withSession[HTTPField.Name("Mcp-Session-Id")!] = sessionID
            try await client.execute(uri: "/mcp", method: .post, headers: withSession, body: ByteBuffer(string: list)) {
                let body = try Self.json($0.body)
                #expect(body["result"]?["tools"] == [])
            }
            try await client.execute(
                uri: "/mcp",
                method: .post,
                headers: Self.auth(token, accept),
                body: ByteBuffer(string: list)
            ) {
                #expect($0.status == .badRequest)
            }
            var bogus = withSession
            bogus[HTTPField.Name("Mcp-Session-Id")!] = "bogus"
            try await client.execute(uri: "/mcp", method: .post, headers: bogus, body: ByteBuffer(string: list)) {
                #expect($0.status == .notFound)
            }
            var wrongVersion = withSession
            wrongVersion[HTTPField.Name("MCP-Protocol-Version")!] = "2024-11-05"
            try await client.execute(uri: "/mcp", method: .post, headers: wrongVersion, body: ByteBuffer(string: list))
            {
                #expect($0.status == .badRequest)
            }
            // A session older than SESSION_TTL is refused even though its seal is valid.
            let old = SessionFacts(
                key: SessionSealer.newKey(),
                protocolVersion: "2025-11-25",
                subject: "tester",
                serverID: nil,
                createdAt: Timestamp.now().millisecondsSince1970 - 2 * 86_400_000
            )
            var expired = withSession
            expired[HTTPField.Name("Mcp-Session-Id")!] = try SessionSealer(secret: Self.secret).seal(old)
            try await client.execute(uri: "/mcp", method: .post, headers: expired, body: ByteBuffer(string: list)) {
                #expect($0.status == .notFound)
            }
            try await client.execute(uri: "/mcp", method: .delete, headers: withSession) {
                #expect($0.status == .noContent)
            }
            try await client.execute(uri: "/mcp", method: .post, headers: withSession, body: ByteBuffer(string: list)) {
                #expect($0.status == .notFound)
            }
        }
    }

    @Test func theStatelessEraDiscoversAndRefusesUnknownMethods() async throws {
        try await withApp { client, token in
            var headers = Self.auth(token, [.accept: "application/json, text/event-stream"])
            headers[HTTPField.Name("MCP-Protocol-Version")!] = "2026-07-28"
            let meta =
                #""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#
            try await client.execute(
                uri: "/mcp",
                method: .post,
                headers: headers,
                body: ByteBuffer(
                    string: #"{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"# + meta + "}}"
                )
            ) { response in
                #expect(response.status == .ok)
                let result = try Self.json(response.body)["result"]
                #expect(result?["resultType"] == "complete")
                #expect(result?["supportedVersions"]?.arrayValue?.contains("2026-07-28") == true)
            }
            try await client.execute(
                uri: "/mcp",
                method: .post,
                headers: headers,
                body: ByteBuffer(string: #"{"jsonrpc":"2.0","id":2,"method":"ping","params":{"# + meta + "}}")
            ) { response in
                #expect(response.status == .notFound)
                let body = try Self.json(response.body)
                #expect(body["error"]?["code"] == -32601)
            }
            try await client.execute(uri: "/mcp", method: .get, headers: headers) {
                #expect($0.status == .methodNotAllowed)
            }
        }
    }
}
