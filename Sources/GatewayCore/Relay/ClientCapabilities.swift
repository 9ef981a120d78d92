/// What a client said it can be asked by servers: sampling, elicitation, roots. The gateway
/// relays an upstream's request to a client only when the client declared the matching capability.
public struct ClientCapabilities: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let sampling = ClientCapabilities(rawValue: 1 << 0)
    public static let elicitation = ClientCapabilities(rawValue: 1 << 1)
    public static let roots = ClientCapabilities(rawValue: 1 << 2)

    /// The capabilities named in a `capabilities` (initialize) or `clientCapabilities` (2026-07-28
    /// `_meta`) object; anything that is not an object declares nothing.
    public init(declared value: JSONValue?) {
        var capabilities: ClientCapabilities = []
        if value?["sampling"]?.objectValue != nil { capabilities.insert(.sampling) }
        if value?["elicitation"]?.objectValue != nil { capabilities.insert(.elicitation) }
        if value?["roots"]?.objectValue != nil { capabilities.insert(.roots) }
        self = capabilities
    }

    /// The capability a server-to-client request needs, or `nil` for a method clients never serve.
    public static func required(for method: String) -> ClientCapabilities? {
        switch method {
        case "sampling/createMessage": .sampling
        case "elicitation/create": .elicitation
        case "roots/list": .roots
        case "ping": []
        default: nil
        }
    }
}
