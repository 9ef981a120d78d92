/// Why a registry operation was refused. Mapped to problem JSON in one place (GatewayHTTP).
public struct RegistryError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable {
        let rawValue: String
        /// No object with that id.
        public static let notFound = Code(rawValue: "not_found")
        /// A name or qualified item name already in use.
        public static let conflict = Code(rawValue: "conflict")
        /// A field failed validation; ``RegistryError/field`` names it.
        public static let invalidField = Code(rawValue: "invalid_field")
        /// The upstream could not be reached or spoke nonsense during discovery.
        public static let upstreamFailed = Code(rawValue: "upstream_failed")
        /// The store refused or is down.
        public static let storeUnavailable = Code(rawValue: "store_unavailable")
    }

    public var code: Code
    public var message: String
    /// The offending field, for ``Code/invalidField``.
    public var field: String?
    /// The URL is this gateway itself (or a node of its own cluster): never worth trying again.
    public var isSelfRegistration = false

    public init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    public static func notFound(_ kind: String, _ id: String) -> Self {
        Self(.notFound, "\(kind) not found: \(id)")
    }

    public static func invalid(_ field: String, _ rule: String) -> Self {
        Self(.invalidField, "\(field): \(rule)", field: field)
    }

    public var description: String { message }
}
