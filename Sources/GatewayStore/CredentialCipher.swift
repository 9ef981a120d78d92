import Crypto
import Foundation
import GatewayCore

/// Encrypts upstream credentials for storage: AES-256-GCM under a key derived (HKDF-SHA256) from
/// AUTH_ENCRYPTION_SECRET. A stored value is `enc:v1:` and the base64 of nonce, ciphertext and
/// tag; tampering or a different secret makes it fail to open.
///
/// Values written before encryption existed (no prefix) are read as they are and encrypted on
/// their next write, or all at once by `mcpgateway rotate-key`. Keys from earlier secrets
/// (`previousSecrets`) still open values, so a secret can be rotated without downtime.
public struct CredentialCipher: Sendable {
    static let prefix = "enc:v1:"
    let current: SymmetricKey
    let previous: [SymmetricKey]

    public init(secret: String, previousSecrets: [String] = []) {
        self.current = Self.key(secret)
        self.previous = previousSecrets.map(Self.key)
    }

    static func key(_ secret: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Data(secret.utf8)),
            info: Data("mcp-gateway credentials v1".utf8),
            outputByteCount: 32
        )
    }

    /// The stored form of `plaintext`, under the current key.
    public func seal(_ plaintext: String) throws -> String {
        let box = try AES.GCM.seal(Data(plaintext.utf8), using: current)
        guard let combined = box.combined else { throw StoreError(.corrupt, "cannot encrypt a credential") }
        return Self.prefix + combined.base64EncodedString()
    }

    /// The plaintext of a stored value (values without the prefix are plaintext already).
    public func open(_ stored: String) throws -> String {
        guard stored.hasPrefix(Self.prefix) else { return stored }
        guard let data = Data(base64Encoded: String(stored.dropFirst(Self.prefix.count))),
            let box = try? AES.GCM.SealedBox(combined: data)
        else { throw StoreError(.corrupt, "a stored credential is damaged") }
        for key in [current] + previous {
            if let plain = try? AES.GCM.open(box, using: key) { return String(decoding: plain, as: UTF8.self) }
        }
        throw StoreError(
            .corrupt,
            "stored upstream credentials do not open with AUTH_ENCRYPTION_SECRET (set the secret they were written with, "
                + "or the old one in AUTH_ENCRYPTION_SECRET_PREVIOUS and run mcpgateway rotate-key)"
        )
    }
}
