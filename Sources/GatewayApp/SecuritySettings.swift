import Foundation
import GatewayAuth
import GatewayCore
import GatewayHTTP

/// The security knobs of ``GatewayConfiguration`` (environment only, no flags).
///
/// | Variable | Default | Meaning |
/// |---|---|---|
/// | `JWT_ALGORITHM` | `HS256` | `HS256`, `RS256` or `ES256`; tokens naming any other `alg` are refused |
/// | `JWT_PUBLIC_KEY_PATH` | none | PEM public key (RS256/ES256), required for those |
/// | `JWT_PRIVATE_KEY_PATH` | none | PEM private key (RS256/ES256), needed to issue tokens |
/// | `JWT_ISSUER` | `mcpgateway` | `iss` of issued tokens, required of presented ones |
/// | `JWT_AUDIENCE` | `mcpgateway-api` | `aud` of issued tokens, required of presented ones |
/// | `JWT_ISSUER_VERIFICATION` | `true` | check `iss` |
/// | `JWT_AUDIENCE_VERIFICATION` | `true` | check `aud` |
/// | `TOKEN_MAX_EXPIRY_DAYS` | `365` | longest lifetime of a token made with `POST /tokens` |
/// | `MCPGATEWAY_ADMIN_API_ENABLED` | `false` | serve the admin API (`/audit`) on its own listener |
/// | `ADMIN_HOST` | `127.0.0.1` | the admin listener's address (beyond loopback only when set) |
/// | `ADMIN_PORT` | `4445` | the admin listener's port |
/// | `AUDIT_RETENTION_DAYS` | `90` | audit entries older than this are pruned |
/// | `RATE_LIMITING_ENABLED` / `RATE_LIMIT_ENABLED` | `true` | answer 429 beyond the limits below (per minute); `RATE_LIMITING_ENABLED` is ContextForge's name and wins, `RATE_LIMIT_ENABLED` is kept as an alias |
/// | `RATE_LIMIT_MCP_PER_MINUTE` | `3000` | MCP requests per token subject |
/// | `RATE_LIMIT_READ_PER_MINUTE` | `1200` | REST reads per token subject |
/// | `RATE_LIMIT_WRITE_PER_MINUTE` | `300` | REST writes per token subject |
/// | `RATE_LIMIT_IP_PER_MINUTE` | `6000` | requests per client address, before authentication |
/// | `TRUSTED_PROXIES` | none | comma-separated CIDRs whose `X-Forwarded-For` is believed |
/// | `VALIDATION_MAX_NAME_LENGTH` | `255` | longest gateway, server or token name |
/// | `VALIDATION_MAX_DESCRIPTION_LENGTH` | `8192` | longest description (REST input and discovered items) |
/// | `VALIDATION_MAX_JSON_DEPTH` | `30` | deepest JSON nesting of a request body |
/// | `VALIDATION_MAX_RPC_PARAM_SIZE` | `262144` | largest `params` of one MCP request, in bytes |
/// | `VALIDATION_ALLOWED_MIME_TYPES` | a list of text, data, image, audio and video types | comma-separated MIME types discovered resources may declare |
/// | `CORS_ALLOWED_ORIGINS` | none | comma-separated origins (`https://app.example.com`) browsers may call from |
/// | `SSL` | `false` | terminate TLS in the gateway (then HSTS is sent) |
/// | `CERT_FILE` / `KEY_FILE` | none | PEM certificate chain and private key, required with `SSL=true` |
/// | `MAX_CONCURRENT_REQUESTS_PER_CLIENT` | `256` | requests (calls and open streams) one token subject may have open at once |
/// | `MCPGATEWAY_UI_ENABLED` | `false` | there is no admin UI in this version: `true` is refused |
/// | `MAX_HEADER_BYTES` | `32768` | largest request header section (and header field); 431 beyond |
/// | `MAX_HEADER_COUNT` | `100` | most request header fields; 431 beyond |
/// | `HTTP_IDLE_TIMEOUT` | `60` | seconds a connection may sit without a complete request head (slow headers, idle keep-alive) |
/// | `BODY_READ_TIMEOUT` | `30` | seconds a request body may take to arrive; 408 beyond |
/// | `ENABLE_HEADER_PASSTHROUGH` | `false` | pass the headers below from clients to upstreams on forwarded calls |
/// | `DEFAULT_PASSTHROUGH_HEADERS` | `X-Tenant-Id,X-Trace-Id` | the headers passed through (never credentials or protocol headers) |
/// | `SSRF_ALLOW_LOCALHOST` | `false` | let upstreams be on loopback |
/// | `SSRF_ALLOW_PRIVATE_NETWORKS` | `false` | let upstreams be in private ranges (RFC 1918, CGNAT, ULA) |
/// | `SSRF_ALLOWED_NETWORKS` | none | comma-separated CIDRs allowed whatever their class (never metadata) |
/// | `STDIO_ENV_ALLOWLIST` | `PATH,HOME,LANG,LC_ALL,LC_CTYPE,TMPDIR,TZ` | the gateway's variables a stdio upstream's process inherits (then its registered `env`); nothing else of the gateway's environment reaches it |
public struct SecuritySettings: Sendable {
    public enum Algorithm: String, Sendable {
        case hs256 = "HS256"
        case rs256 = "RS256"
        case es256 = "ES256"
    }

    public var algorithm: Algorithm = .hs256
    public var publicKeyPath: String?
    public var privateKeyPath: String?
    public var policy = TokenPolicy()
    public var tokenMaximumDays = 365
    public var adminAPIEnabled = false
    public var adminHost = "127.0.0.1"
    public var adminPort = 4445
    public var auditRetentionDays = 90
    /// The SSRF guard's rules for upstream addresses.
    public var networkPolicy = NetworkPolicy()
    public var rateLimitEnabled = true
    public var rateLimits = RateLimits()
    public var trustedProxies: [IPNetwork] = []
    public var validation = ValidationRules()
    public var corsOrigins: Set<String> = []
    /// The client headers passed to upstreams, when enabled.
    public var headerPassthrough: HeaderPassthrough?
    public var maximumConcurrentRequests = 256
    public var maximumHeaderBytes = 32768
    public var maximumHeaderCount = 100
    public var idleTimeoutSeconds = 60
    public var bodyReadTimeoutSeconds = 30
    /// The certificate chain and key files when the gateway terminates TLS.
    public var tls: (certificateFile: String, keyFile: String)?
    /// What stdio upstreams inherit of the gateway's environment.
    public var childEnvironment = ChildEnvironment()
    /// The inherited part of a stdio upstream's environment: the allowed variables the gateway has.
    public var stdioInheritedEnvironment: [String: String] = [:]

    public init() {}

    init(values: [String: String]) throws(ConfigurationError) {
        try readTokens(values)
        try readAdmin(values)
        try readNetwork(values)
        try readValidation(values)
        try readHTTPLimits(values)
        childEnvironment = try Self.childEnvironment(values)
        stdioInheritedEnvironment = childEnvironment.environment(parent: values)
    }

    /// JWT and API tokens: algorithm and keys, issuer and audience, token lifetime.
    private mutating func readTokens(_ values: [String: String]) throws(ConfigurationError) {
        if let text = values["JWT_ALGORITHM"] {
            guard let algorithm = Algorithm(rawValue: text.uppercased()) else {
                throw ConfigurationError("JWT_ALGORITHM must be HS256, RS256 or ES256")
            }
            self.algorithm = algorithm
        }
        publicKeyPath = values["JWT_PUBLIC_KEY_PATH"].flatMap { $0.isEmpty ? nil : $0 }
        privateKeyPath = values["JWT_PRIVATE_KEY_PATH"].flatMap { $0.isEmpty ? nil : $0 }
        if algorithm != .hs256, publicKeyPath == nil {
            throw ConfigurationError("JWT_ALGORITHM=\(algorithm.rawValue) needs JWT_PUBLIC_KEY_PATH (a PEM public key)")
        }
        for (name, keyPath) in [("JWT_ISSUER", \TokenPolicy.issuer), ("JWT_AUDIENCE", \TokenPolicy.audience)] {
            guard let text = values[name] else { continue }
            guard !text.isEmpty, text.utf8.count <= 255 else {
                throw ConfigurationError("\(name) must be 1 to 255 characters")
            }
            policy[keyPath: keyPath] = text
        }
        if let text = values["JWT_ISSUER_VERIFICATION"] {
            policy.verifyIssuer = try GatewayConfiguration.boolean("JWT_ISSUER_VERIFICATION", text)
        }
        if let text = values["JWT_AUDIENCE_VERIFICATION"] {
            policy.verifyAudience = try GatewayConfiguration.boolean("JWT_AUDIENCE_VERIFICATION", text)
        }
        if let text = values["TOKEN_MAX_EXPIRY_DAYS"] {
            tokenMaximumDays = try GatewayConfiguration.integer("TOKEN_MAX_EXPIRY_DAYS", text, in: 1...3650)
        }
    }

    /// The admin API and its listener.
    private mutating func readAdmin(_ values: [String: String]) throws(ConfigurationError) {
        if let text = values["MCPGATEWAY_ADMIN_API_ENABLED"] {
            adminAPIEnabled = try GatewayConfiguration.boolean("MCPGATEWAY_ADMIN_API_ENABLED", text)
        }
        if let host = values["ADMIN_HOST"] {
            guard !host.isEmpty else { throw ConfigurationError("ADMIN_HOST must not be empty") }
            adminHost = host
        }
        if let text = values["ADMIN_PORT"] {
            adminPort = try GatewayConfiguration.integer("ADMIN_PORT", text, in: 1...65535)
        }
    }

    /// SSRF protection, trusted proxies, rate limits.
    private mutating func readNetwork(_ values: [String: String]) throws(ConfigurationError) {
        if let text = values["SSRF_ALLOW_LOCALHOST"] {
            networkPolicy.allowLocalhost = try GatewayConfiguration.boolean("SSRF_ALLOW_LOCALHOST", text)
        }
        if let text = values["SSRF_ALLOW_PRIVATE_NETWORKS"] {
            networkPolicy.allowPrivateNetworks = try GatewayConfiguration.boolean("SSRF_ALLOW_PRIVATE_NETWORKS", text)
        }
        networkPolicy.allowedNetworks = try Self.networks("SSRF_ALLOWED_NETWORKS", values)
        trustedProxies = try Self.networks("TRUSTED_PROXIES", values)
        if let text = values["RATE_LIMITING_ENABLED"] {
            rateLimitEnabled = try GatewayConfiguration.boolean("RATE_LIMITING_ENABLED", text)
        } else if let text = values["RATE_LIMIT_ENABLED"] {
            rateLimitEnabled = try GatewayConfiguration.boolean("RATE_LIMIT_ENABLED", text)
        }
        for (name, keyPath) in [
            ("RATE_LIMIT_MCP_PER_MINUTE", \RateLimits.mcpPerMinute),
            ("RATE_LIMIT_READ_PER_MINUTE", \RateLimits.readPerMinute),
            ("RATE_LIMIT_WRITE_PER_MINUTE", \RateLimits.writePerMinute),
            ("RATE_LIMIT_IP_PER_MINUTE", \RateLimits.perAddressPerMinute),
        ] {
            if let text = values[name] {
                rateLimits[keyPath: keyPath] = try GatewayConfiguration.integer(name, text, in: 1...10_000_000)
            }
        }
    }

    /// Input validation limits and header passthrough.
    private mutating func readValidation(_ values: [String: String]) throws(ConfigurationError) {
        for (name, keyPath, range) in [
            ("VALIDATION_MAX_NAME_LENGTH", \ValidationRules.maximumNameLength, 16...4096),
            ("VALIDATION_MAX_DESCRIPTION_LENGTH", \ValidationRules.maximumDescriptionLength, 256...1_000_000),
            ("VALIDATION_MAX_JSON_DEPTH", \ValidationRules.maximumJSONDepth, 8...256),
            ("VALIDATION_MAX_RPC_PARAM_SIZE", \ValidationRules.maximumParamsBytes, 1024...(64 << 20)),
        ] {
            if let text = values[name] {
                validation[keyPath: keyPath] = try GatewayConfiguration.integer(name, text, in: range)
            }
        }
        if let text = values["VALIDATION_ALLOWED_MIME_TYPES"] {
            let types = Self.list(text).map { $0.lowercased() }
            guard !types.isEmpty, types.allSatisfy({ $0.split(separator: "/").count == 2 }) else {
                throw ConfigurationError(
                    "VALIDATION_ALLOWED_MIME_TYPES must be comma-separated types such as text/plain"
                )
            }
            validation.allowedMIMETypes = Set(types)
        }
        let passthroughNames = Self.list(values["DEFAULT_PASSTHROUGH_HEADERS"] ?? "X-Tenant-Id,X-Trace-Id")
        if let problem = HeaderPassthrough.problem(with: passthroughNames) {
            throw ConfigurationError("DEFAULT_PASSTHROUGH_HEADERS: \(problem)")
        }
        if let text = values["ENABLE_HEADER_PASSTHROUGH"],
            try GatewayConfiguration.boolean("ENABLE_HEADER_PASSTHROUGH", text)
        {
            headerPassthrough = HeaderPassthrough(names: passthroughNames)
        }
    }

    /// Per-client concurrency, header and timeout limits, CORS, TLS, audit retention, the UI switch.
    private mutating func readHTTPLimits(_ values: [String: String]) throws(ConfigurationError) {
        if let text = values["MAX_CONCURRENT_REQUESTS_PER_CLIENT"] {
            maximumConcurrentRequests = try GatewayConfiguration.integer(
                "MAX_CONCURRENT_REQUESTS_PER_CLIENT",
                text,
                in: 1...1_000_000
            )
        }
        if let text = values["MCPGATEWAY_UI_ENABLED"], try GatewayConfiguration.boolean("MCPGATEWAY_UI_ENABLED", text) {
            throw ConfigurationError(
                "MCPGATEWAY_UI_ENABLED: this version has no admin UI (the admin API is MCPGATEWAY_ADMIN_API_ENABLED)"
            )
        }
        if let text = values["MAX_HEADER_BYTES"] {
            maximumHeaderBytes = try GatewayConfiguration.integer("MAX_HEADER_BYTES", text, in: 1024...(1 << 20))
        }
        if let text = values["MAX_HEADER_COUNT"] {
            maximumHeaderCount = try GatewayConfiguration.integer("MAX_HEADER_COUNT", text, in: 8...10000)
        }
        if let text = values["HTTP_IDLE_TIMEOUT"] {
            idleTimeoutSeconds = try GatewayConfiguration.integer("HTTP_IDLE_TIMEOUT", text, in: 1...3600)
        }
        if let text = values["BODY_READ_TIMEOUT"] {
            bodyReadTimeoutSeconds = try GatewayConfiguration.integer("BODY_READ_TIMEOUT", text, in: 1...3600)
        }
        if let text = values["CORS_ALLOWED_ORIGINS"] {
            for origin in Self.list(text) {
                guard Self.isOrigin(origin) else {
                    throw ConfigurationError(
                        "CORS_ALLOWED_ORIGINS must list origins such as https://app.example.com (no *, paths or trailing /): \(origin)"
                    )
                }
                corsOrigins.insert(origin)
            }
        }
        if let text = values["SSL"], try GatewayConfiguration.boolean("SSL", text) {
            guard let certificate = values["CERT_FILE"], !certificate.isEmpty, let key = values["KEY_FILE"],
                !key.isEmpty
            else {
                throw ConfigurationError("SSL=true needs CERT_FILE and KEY_FILE (PEM files)")
            }
            tls = (certificate, key)
        }
        if let text = values["AUDIT_RETENTION_DAYS"] {
            auditRetentionDays = try GatewayConfiguration.integer("AUDIT_RETENTION_DAYS", text, in: 1...3650)
        }
    }

    /// `STDIO_ENV_ALLOWLIST`: variable names, comma-separated (empty: children inherit nothing).
    static func childEnvironment(_ values: [String: String]) throws(ConfigurationError) -> ChildEnvironment {
        do {
            return try ChildEnvironment(setting: values["STDIO_ENV_ALLOWLIST"])
        } catch {
            throw ConfigurationError("STDIO_ENV_ALLOWLIST: \(error.message)")
        }
    }

    /// `scheme://host[:port]` with an http(s) scheme and nothing after the authority.
    static func isOrigin(_ text: String) -> Bool {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else { return false }
        return components.path.isEmpty && components.query == nil && components.fragment == nil
            && components.user == nil
    }

    /// The non-empty, trimmed items of a comma-separated setting.
    static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static func networks(_ name: String, _ values: [String: String]) throws(ConfigurationError) -> [IPNetwork] {
        guard let text = values[name] else { return [] }
        var networks: [IPNetwork] = []
        for item in list(text) {
            guard let network = IPNetwork(item) else {
                throw ConfigurationError(
                    "\(name) must be comma-separated addresses or CIDRs such as 10.1.0.0/16 (not: \(item))"
                )
            }
            networks.append(network)
        }
        return networks
    }

    /// The token signing set-up; reads the PEM files.
    func signing(hmacSecret: String) throws(ConfigurationError) -> TokenSigning {
        func read(_ path: String?, _ name: String) throws(ConfigurationError) -> String? {
            guard let path else { return nil }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError("\(name) cannot be read: \(path)")
            }
            return text
        }
        switch algorithm {
        case .hs256:
            return .hs256(secret: hmacSecret)
        case .rs256:
            return .rs256(
                publicKeyPEM: try read(publicKeyPath, "JWT_PUBLIC_KEY_PATH") ?? "",
                privateKeyPEM: try read(privateKeyPath, "JWT_PRIVATE_KEY_PATH")
            )
        case .es256:
            return .es256(
                publicKeyPEM: try read(publicKeyPath, "JWT_PUBLIC_KEY_PATH") ?? "",
                privateKeyPEM: try read(privateKeyPath, "JWT_PRIVATE_KEY_PATH")
            )
        }
    }
}

/// Builds the token authority the configuration describes; a key that cannot be read stops start-up.
public func tokenAuthority(
    _ configuration: GatewayConfiguration,
    revocations: TokenRevocations = TokenRevocations()
)
    async throws -> TokenAuthority
{
    let signing = try configuration.security.signing(hmacSecret: try jwtSecret(configuration))
    do {
        return try await TokenAuthority(
            signing: signing,
            policy: configuration.security.policy,
            revocations: revocations
        )
    } catch {
        throw ConfigurationError(
            "the \(configuration.security.algorithm.rawValue) key in JWT_PUBLIC_KEY_PATH/JWT_PRIVATE_KEY_PATH is not a valid PEM key"
        )
    }
}
