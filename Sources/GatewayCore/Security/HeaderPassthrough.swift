/// A request header copied from the client's request onto the upstream call.
public struct ForwardedHeader: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// Which client headers reach upstreams (ENABLE_HEADER_PASSTHROUGH, DEFAULT_PASSTHROUGH_HEADERS;
/// off by default). Only calls forwarded to HTTP upstreams carry them — never the upstream
/// session's initialize or its GET stream, which several clients share — and a header the
/// upstream's own credentials set is never overridden.
public struct HeaderPassthrough: Sendable, Equatable {
    /// Lower-cased names allowed through.
    public let names: Set<String>

    /// Names that may never be passed through: credentials, hop-by-hop and framing headers, the
    /// protocol's own headers, which the gateway sets for its upstream session, and federation's
    /// (the hop count and identity assertion are this gateway's to set).
    public static let forbidden: Set<String> = [
        "authorization", "proxy-authorization", "cookie", "set-cookie", "host", "content-length", "content-type",
        "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer", "expect", "accept",
        "accept-encoding", "mcp-session-id", "mcp-protocol-version", "mcp-method", "mcp-name", "last-event-id",
        "forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip",
        Federation.hopsHeader.lowercased(), Federation.identityHeader.lowercased(),
    ]

    /// Why `names` cannot be an allow list, or `nil`.
    public static func problem(with names: [String]) -> String? {
        for name in names {
            let lower = name.lowercased()
            if forbidden.contains(lower) { return "\(name) may not be passed through" }
            let valid =
                !lower.isEmpty && lower.utf8.count <= 64
                && lower.unicodeScalars.allSatisfy {
                    $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-")
                }
            if !valid { return "\(name) is not a header name (letters, digits and -)" }
        }
        return nil
    }

    public init(names: [String]) {
        self.names = Set(names.map { $0.lowercased() })
    }

    /// The allowed headers among a request's `(name, value)` pairs: at most 1 KiB per value,
    /// in request order.
    public func select(_ fields: some Sequence<(name: String, value: String)>) -> [ForwardedHeader] {
        fields.compactMap { field in
            names.contains(field.name.lowercased()) && field.value.utf8.count <= 1024
                ? ForwardedHeader(name: field.name, value: field.value) : nil
        }
    }
}
