import Crypto
import ExtrasBase64
import Foundation
import GatewayCore

/// Seals session facts into an opaque session id (AES-GCM under a key derived once at start) so
/// any node can open it without shared storage; a forged or altered id does not open.
public struct SessionSealer: Sendable {
    package let key: SymmetricKey
    /// Seals the `requestState` of `input_required` answers, under a key of its own.
    public let requestStates: RequestStateSealer

    /// - Parameter secret: the cluster secret; the sealing key is derived from it with HKDF once.
    public init(secret: String) {
        self.requestStates = RequestStateSealer(secret: secret)
        self.key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Data(secret.utf8)),
            info: Data("mcp-gateway session v1".utf8),
            outputByteCount: 32
        )
    }

    /// A new session id for `facts`.
    public func seal(_ facts: SessionFacts) throws -> String {
        let plain: JSONValue = [
            "k": .string(facts.key), "v": .string(facts.protocolVersion), "s": .string(facts.subject),
            "srv": facts.serverID.map { .string($0) } ?? .null, "t": .int(facts.createdAt),
            "c": .int(Int64(facts.capabilities.rawValue)),
        ]
        let box = try AES.GCM.seal(plain.serializedBytes, using: key)
        guard let combined = box.combined else { throw SessionError() }
        return Base64.encodeToString(bytes: combined, options: [.base64UrlAlphabet, .omitPaddingCharacter])
    }

    /// The facts inside a session id, or `nil` when it was not sealed by this cluster.
    public func open(_ sessionID: String) -> SessionFacts? {
        if let cached = cache.value(for: sessionID) { return cached }
        guard sessionID.utf8.count <= 4096,
            let data = try? Base64.decode(string: sessionID, options: [.base64UrlAlphabet, .omitPaddingCharacter]),
            let box = try? AES.GCM.SealedBox(combined: data),
            let plain = try? AES.GCM.open(box, using: key),
            let value = try? JSONScanner.parse(Array(plain)),
            let sessionKey = value["k"]?.stringValue, let version = value["v"]?.stringValue,
            let subject = value["s"]?.stringValue, let created = value["t"]?.intValue
        else { return nil }
        let facts = SessionFacts(
            key: sessionKey,
            protocolVersion: version,
            subject: subject,
            serverID: value["srv"]?.stringValue,
            createdAt: created,
            capabilities: ClientCapabilities(rawValue: Int(value["c"]?.intValue ?? 0))
        )
        cache.store(facts, for: sessionID)
        return facts
    }

    /// Opened session ids, so a session's every request does not decrypt it again. Facts are
    /// immutable, so caching them is safe; whether a session ended is checked on every request.
    package let cache = BoundedCache<SessionFacts>(capacity: 10_000)

    /// A fresh random session key.
    public static func newKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    package struct SessionError: Error {}
}
