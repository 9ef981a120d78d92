import ArgumentParser
import AsyncHTTPClient
import Foundation
import GatewayApp
import GatewayAuth
import GatewayCore
import NIOCore
import NIOHTTP1

/// Where the export and import commands find the running gateway, and how they authenticate.
struct RemoteGatewayOptions: ParsableArguments {
    @Option(help: "The gateway's base URL (default: http://HOST:PORT of the configuration).") var url: String?
    @Option(
        help: """
            An admin bearer token (or MCPGATEWAY_BEARER_TOKEN); by default a 5-minute admin token is \
            signed with the configured JWT secret.
            """
    )
    var token: String?

    /// The base URL and the bearer token to use.
    func resolve(_ configuration: GatewayConfiguration) async -> (base: String, token: String) {
        let host = ["0.0.0.0", "::"].contains(configuration.host) ? "127.0.0.1" : configuration.host
        let scheme = configuration.security.tls == nil ? "http" : "https"
        var base = url ?? "\(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(configuration.port)"
        while base.hasSuffix("/") { base.removeLast() }
        guard base.hasPrefix("http://") || base.hasPrefix("https://") else { fail("--url must be an http(s) URL") }
        if let token = token ?? ProcessInfo.processInfo.environment["MCPGATEWAY_BEARER_TOKEN"], !token.isEmpty {
            return (base, token)
        }
        let token = await signedToken(configuration, subject: "mcpgateway-cli", lifetime: .seconds(300), admin: true)
            .token
        return (base, token)
    }
}

/// Sends one request to the gateway and returns the JSON answer; a refusal ends the command
/// with the problem's detail.
func requestGateway(
    _ method: HTTPMethod,
    _ url: String,
    token: String,
    body: [UInt8]? = nil
) async throws -> JSONValue {
    var request = HTTPClientRequest(url: url)
    request.method = method
    request.headers.add(name: "authorization", value: "Bearer \(token)")
    request.headers.add(name: "accept", value: "application/json")
    if let body {
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
    }
    let response: HTTPClientResponse
    do {
        response = try await HTTPClient.shared.execute(request, timeout: .seconds(300))
    } catch {
        fail("cannot reach the gateway at \(url): \(error)", status: 1)
    }
    let bytes = Array(try await response.body.collect(upTo: 256 << 20).readableBytesView)
    let answer = try? JSONScanner.parse(bytes)
    guard (200..<300).contains(response.status.code), let answer else {
        let detail = answer?["detail"]?.stringValue ?? String(decoding: bytes.prefix(500), as: UTF8.self)
        fail("the gateway answered \(response.status.code): \(detail)", status: 1)
    }
    return answer
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the gateways and virtual servers of a running gateway as JSON (ContextForge's export shape).",
        discussion: """
            Credentials and stdio environment values are not exported (metadata.secrets_omitted lists them). \
            Disabled gateways and servers are included unless --active-only.
            """
    )
    @OptionGroup var options: ConfigurationOptions
    @OptionGroup var remote: RemoteGatewayOptions
    @Option(
        name: [.short, .customLong("out"), .customLong("output")],
        help: "File to write, '-' for standard output (default: mcpgateway-export-YYYYMMDD-HHMMSS.json)."
    )
    var out: String?
    @Option(help: "Entity types to export: gateways,servers (default both).") var types: String?
    @Flag(help: "Leave out disabled gateways and servers.") var activeOnly = false

    func run() async throws {
        let (base, token) = await remote.resolve(options.load())
        var query = "include_inactive=\(!activeOnly)"
        if let types {
            guard let encoded = types.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) else {
                fail("--types must be a comma-separated list")
            }
            query += "&types=\(encoded)"
        }
        let document = try await requestGateway(.GET, "\(base)/export?\(query)", token: token)
        let bytes = document.serializedBytes + [UInt8(ascii: "\n")]
        let counts =
            document["metadata"]?["entity_counts"]?.objectValue?.members
            .map { "\($0.value.intValue ?? 0) \($0.key)" }.joined(separator: ", ") ?? ""
        if out == "-" {
            FileHandle.standardOutput.write(Data(bytes))
            return
        }
        let path = out ?? "mcpgateway-export-\(Self.stamp()).json"
        // Owner-only: no credentials are in it, but stdio arguments and URLs are.
        let written = FileManager.default.createFile(
            atPath: path,
            contents: Data(bytes),
            attributes: [.posixPermissions: 0o600]
        )
        guard written else { fail("cannot write \(path)") }
        FileHandle.standardError.write(Data("exported \(counts) to \(path)\n".utf8))
    }

    static func stamp() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return formatter.string(from: Date())
    }
}

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register the gateways and virtual servers of an export file on a running gateway.",
        discussion: """
            Every gateway is registered (and discovered) as POST /gateways would. Prints the import status \
            as JSON; exits 1 when an entity failed.
            """
    )
    @OptionGroup var options: ConfigurationOptions
    @OptionGroup var remote: RemoteGatewayOptions
    @Argument(help: "The export file.") var file: String
    @Option(help: "When a name is taken: update (default), skip, rename or fail (nothing is written).")
    var conflictStrategy = "update"
    @Flag(help: "Validate and report what would happen; change nothing.") var dryRun = false
    @Option(help: "Only these entities, as \"gateways:a,b;servers:c\".") var include: String?

    func run() async throws {
        let (base, token) = await remote.resolve(options.load())
        guard let data = FileManager.default.contents(atPath: file) else { fail("cannot read \(file)") }
        let document: JSONValue
        do { document = try JSONScanner.parse(Array(data), maximumDepth: 64) } catch {
            fail("\(file) is not JSON: \(error)")
        }
        var body = JSONObject([
            ("import_data", document), ("conflict_strategy", .string(conflictStrategy)), ("dry_run", .bool(dryRun)),
        ])
        if let include { body["selected_entities"] = try Self.selection(include) }
        let report = try await requestGateway(
            .POST,
            "\(base)/import",
            token: token,
            body: JSONValue.object(body).serializedBytes
        )
        FileHandle.standardOutput.write(Data(report.serializedBytes + [UInt8(ascii: "\n")]))
        let progress = report["progress"]
        let failed = progress?["failed"]?.intValue ?? 0
        let summary = ["created", "updated", "skipped", "failed"].map { "\(progress?[$0]?.intValue ?? 0) \($0)" }
        FileHandle.standardError.write(Data("\(dryRun ? "dry run: " : "")\(summary.joined(separator: ", "))\n".utf8))
        if failed > 0 { throw ExitCode(1) }
    }

    /// `gateways:a,b;servers:c` as `{"gateways": ["a", "b"], "servers": ["c"]}`.
    static func selection(_ text: String) throws -> JSONValue {
        var selected = JSONObject()
        for part in text.split(separator: ";") {
            let pieces = part.split(separator: ":", maxSplits: 1)
            guard pieces.count == 2 else { fail("--include must look like \"gateways:a,b;servers:c\"") }
            let names = pieces[1].split(separator: ",").map { JSONValue.string(String($0)) }
            selected[String(pieces[0])] = .array(names)
        }
        return .object(selected)
    }
}
