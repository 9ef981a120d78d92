import Foundation
import GatewayCore

/// Turns REST bodies into validated registry inputs; every refusal names the field and the rule.
enum InputParser {
    static let maximumURLLength = 2048

    static func name(_ fields: Fields, required: Bool) throws -> String? {
        guard let name = try fields.string("name", maxLength: fields.rules.maximumNameLength) else {
            if required { throw ProblemError.invalid("name", "is required") }
            return nil
        }
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw ProblemError.invalid("name", "must not be empty") }
        guard !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw ProblemError.invalid("name", "must not contain control characters")
        }
        if let problem = fields.rules.nameProblem(trimmed) { throw ProblemError.invalid("name", problem) }
        return trimmed
    }

    /// An optional description: at most VALIDATION_MAX_DESCRIPTION_LENGTH characters, without
    /// markup that runs script.
    static func description(_ fields: Fields) throws -> String? {
        guard let text = try fields.string("description", maxLength: fields.rules.maximumDescriptionLength) else {
            return nil
        }
        if let markup = ValidationRules.dangerousMarkup(in: text) {
            throw ProblemError.invalid("description", "must not contain markup that runs script (\(markup))")
        }
        return text
    }

    static func url(_ fields: Fields, required: Bool) throws -> String? {
        guard let text = try fields.string("url", maxLength: maximumURLLength) else {
            if required { throw ProblemError.invalid("url", "is required") }
            return nil
        }
        if let problem = ValidationRules.urlProblem(text) {
            let hint =
                problem.contains("credentials")
                ? ": give them as auth_type basic with auth_username and auth_password" : ""
            throw ProblemError.invalid("url", problem + hint)
        }
        return text
    }

    static func transport(_ fields: Fields, url: String?) throws -> UpstreamTransport? {
        guard let text = try fields.string("transport") else {
            guard let url else { return nil }
            // ContextForge defaults to SSE; a URL ending in /sse is SSE, anything else streamable HTTP.
            return url.hasSuffix("/sse") || url.hasSuffix("/sse/") ? .sse : .streamableHTTP
        }
        guard let transport = UpstreamTransport(parsing: text) else {
            throw ProblemError.invalid("transport", "must be one of STREAMABLEHTTP, SSE, STDIO")
        }
        return transport
    }

    static let maximumArguments = 256
    static let maximumEnvironment = 128

    /// A stdio upstream's process: `command` (required), `args` (strings), `env` (string values
    /// under portable variable names).
    static func command(_ fields: Fields) throws -> StdioCommand {
        guard let command = try fields.string("command", maxLength: 4096), !command.isEmpty else {
            throw ProblemError.invalid("command", "is required for STDIO upstreams")
        }
        guard !command.contains("\0") else { throw ProblemError.invalid("command", "must not contain NUL") }
        var arguments: [String] = []
        if let (name, value) = fields.raw("args", "arguments"), !value.isNull {
            let rule = "must be an array of at most \(maximumArguments) strings of at most 4096 bytes, without NUL"
            guard let array = value.arrayValue, array.count <= maximumArguments else {
                throw ProblemError.invalid(name, rule)
            }
            for element in array {
                guard let text = element.stringValue, !text.contains("\0"), text.utf8.count <= 4096 else {
                    throw ProblemError.invalid(name, rule)
                }
                arguments.append(text)
            }
        }
        var environment: [String: String] = [:]
        if let (name, value) = fields.raw("env", "environment") {
            guard case .object(let object) = value, object.members.count <= maximumEnvironment else {
                throw ProblemError.invalid(name, "must be an object of at most \(maximumEnvironment) string values")
            }
            for (key, value) in object.members {
                guard isEnvironmentName(key), let text = value.stringValue, !text.contains("\0") else {
                    throw ProblemError.invalid(name, "keys must match [A-Za-z_][A-Za-z0-9_]* and values be strings")
                }
                environment[key] = text
            }
        }
        return StdioCommand(command: command, arguments: arguments, environment: environment)
    }

    static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic || first == "_" else {
            return false
        }
        return name.utf8.count <= 256
            && name.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_")
            }
    }

    static func auth(_ fields: Fields) throws -> UpstreamAuth? {
        guard let type = try fields.string("auth_type", "authType")?.lowercased() else { return nil }
        switch type {
        case "", "none":
            return UpstreamAuth.none
        case "bearer":
            guard let token = try fields.string("auth_token", "authToken"), !token.isEmpty else {
                throw ProblemError.invalid("auth_token", "is required when auth_type is bearer")
            }
            guard Self.isHeaderSafe(token) else {
                throw ProblemError.invalid("auth_token", "must be a single line of printable text")
            }
            return UpstreamAuth(type: "bearer", headers: [("Authorization", "Bearer \(token)")])
        case "basic":
            guard let user = try fields.string("auth_username", "authUsername"), !user.isEmpty else {
                throw ProblemError.invalid("auth_username", "is required when auth_type is basic")
            }
            guard let password = try fields.string("auth_password", "authPassword") else {
                throw ProblemError.invalid("auth_password", "is required when auth_type is basic")
            }
            guard !user.contains(":"), Self.isHeaderSafe(user), Self.isHeaderSafe(password) else {
                throw ProblemError.invalid("auth_username", "must be printable text without ':'")
            }
            let encoded = Data("\(user):\(password)".utf8).base64EncodedString()
            return UpstreamAuth(type: "basic", headers: [("Authorization", "Basic \(encoded)")])
        case "authheaders":
            guard let key = try fields.string("auth_header_key", "authHeaderKey"), Self.isToken(key) else {
                throw ProblemError.invalid("auth_header_key", "must be a valid HTTP header name")
            }
            guard let value = try fields.string("auth_header_value", "authHeaderValue"), Self.isHeaderSafe(value)
            else {
                throw ProblemError.invalid("auth_header_value", "is required and must be a single line")
            }
            return UpstreamAuth(type: "authheaders", headers: [(key, value)])
        default:
            throw ProblemError.invalid("auth_type", "must be one of basic, bearer, authheaders")
        }
    }

    /// Printable text that can go into an HTTP header value (no CR, LF or other controls).
    static func isHeaderSafe(_ value: String) -> Bool {
        value.unicodeScalars.allSatisfy { $0 == "\t" || ($0.value >= 0x20 && $0.value != 0x7F) }
    }

    static func isToken(_ name: String) -> Bool {
        !name.isEmpty
            && name.unicodeScalars.allSatisfy {
                $0.isASCII
                    && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_".unicodeScalars.contains($0))
            }
    }

    static func gatewayInput(_ object: JSONObject, rules: ValidationRules) throws -> GatewayInput {
        let fields = Fields(object: object, rules: rules)
        if let text = try fields.string("transport"), UpstreamTransport(parsing: text) == .stdio {
            guard let name = try name(fields, required: true) else { throw ProblemError.invalid("name", "is required") }
            let command = try command(fields)
            return GatewayInput(
                name: name,
                url: command.displayURL,
                transport: .stdio,
                description: try description(fields),
                auth: .none,
                command: command,
                syncInterval: try syncInterval(fields) ?? nil
            )
        }
        guard let name = try name(fields, required: true), let url = try url(fields, required: true),
            let transport = try transport(fields, url: url)
        else { throw ProblemError.invalid("name", "is required") }
        return GatewayInput(
            name: name,
            url: url,
            transport: transport,
            description: try description(fields),
            auth: try auth(fields) ?? .none,
            syncInterval: try syncInterval(fields) ?? nil
        )
    }

    /// `sync_interval` (or `syncInterval`): seconds between the leader's re-listings of this
    /// upstream, 1 to 86400; `null` follows FEDERATION_SYNC_INTERVAL. Absent: `nil`.
    static func syncInterval(_ fields: Fields) throws -> Int?? {
        guard let (name, value) = fields.raw("sync_interval", "syncInterval") else { return nil }
        if value.isNull { return .some(nil) }
        guard let seconds = value.intValue, (1...86400).contains(seconds) else {
            throw ProblemError.invalid(name, "must be a whole number of seconds from 1 to 86400, or null")
        }
        return .some(Int(seconds))
    }

    static func gatewayUpdate(_ object: JSONObject, rules: ValidationRules) throws -> GatewayUpdate {
        let fields = Fields(object: object, rules: rules)
        var update = GatewayUpdate()
        update.name = try name(fields, required: false)
        update.url = try url(fields, required: false)
        if fields.has("transport") { update.transport = try transport(fields, url: nil) }
        if fields.has("description") { update.description = .some(try description(fields)) }
        update.auth = try auth(fields)
        if fields.has("command", "args", "arguments", "env", "environment") { update.command = try command(fields) }
        update.syncInterval = try syncInterval(fields)
        return update
    }

    /// A virtual server's icon: an http(s) URL like every URL-valued field, or absent.
    static func icon(_ fields: Fields) throws -> String? {
        guard let text = try fields.string("icon", maxLength: maximumURLLength) else { return nil }
        if let problem = ValidationRules.urlProblem(text) { throw ProblemError.invalid("icon", problem) }
        return text
    }

    static func serverInput(_ body: JSONObject, creating: Bool, rules: ValidationRules) throws -> ServerInput {
        var object = body
        if case .object(let inner)? = body["server"] { object = inner }
        let fields = Fields(object: object, rules: rules)
        let name = try name(fields, required: creating)
        return ServerInput(
            name: name,
            description: fields.has("description") ? .some(try description(fields)) : nil,
            icon: fields.has("icon") ? .some(try icon(fields)) : nil,
            toolIDs: try fields.stringArray("associated_tools", "associatedTools"),
            resourceIDs: try fields.stringArray("associated_resources", "associatedResources"),
            promptIDs: try fields.stringArray("associated_prompts", "associatedPrompts")
        )
    }
}
