/// What differs between protocol eras where the dispatcher meets them: which methods the gateway
/// answers, whether requests carry a per-request envelope, how a result is finished for the
/// client. Transports choose the era of each request (the adapters are in GatewayHTTP); the
/// dispatcher asks it rather than comparing protocol versions.
public protocol ClientEra: Sendable {
    /// Whether the gateway answers `method` itself in this era (beyond the lists and calls every
    /// era has): `ping` and `logging/setLevel` in the handshake eras, `server/discover` in 2026-07-28.
    func answers(_ method: String) -> Bool
    /// Whether requests carry the era's envelope in `params._meta` (protocol version, client
    /// capabilities), which is this hop's business only and removed before forwarding.
    var carriesEnvelope: Bool { get }
    /// A successful result as the client receives it.
    func finish(result: [UInt8], method: String) -> [UInt8]
}

/// The handshake eras (2025-11-25 and earlier): a session settled by `initialize`, `ping`, and
/// results exactly as the upstream (or catalog) gave them.
public struct HandshakeEra: ClientEra {
    public init() {}

    public func answers(_ method: String) -> Bool { method == "ping" || method == "logging/setLevel" }
    public var carriesEnvelope: Bool { false }
    public func finish(result: [UInt8], method: String) -> [UInt8] { result }
}
