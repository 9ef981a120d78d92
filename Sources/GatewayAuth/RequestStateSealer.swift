import Crypto
import ExtrasBase64
import Foundation
import GatewayCore

/// Seals the `requestState` of `input_required` answers (AES-GCM under a key derived from the
/// cluster secret, apart from the session key), so any node can open one and nobody else can
/// make or alter one.
public struct RequestStateSealer: RequestStateSealing {
    private let key: SymmetricKey

    /// - Parameter secret: the cluster secret; the key is derived from it with HKDF once.
    public init(secret: String) {
        self.key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Data(secret.utf8)),
            info: Data("mcp-gateway request state v1".utf8),
            outputByteCount: 32
        )
    }

    public func seal(_ token: InputRoundToken) -> String? {
        let plain: JSONValue = [
            "n": .string(token.node), "c": .string(token.call), "s": .string(token.subject),
            "srv": token.serverID.map { .string($0) } ?? .null, "m": .string(token.method),
            "x": token.name.map { .string($0) } ?? .null, "u": token.upstreamState.map { .string($0) } ?? .null,
        ]
        guard let combined = try? AES.GCM.seal(plain.serializedBytes, using: key).combined else { return nil }
        return Base64.encodeToString(bytes: combined, options: [.base64UrlAlphabet, .omitPaddingCharacter])
    }

    public func open(_ requestState: String) -> InputRoundToken? {
        guard requestState.utf8.count <= 65_536,
            let data = try? Base64.decode(string: requestState, options: [.base64UrlAlphabet, .omitPaddingCharacter]),
            let box = try? AES.GCM.SealedBox(combined: data),
            let plain = try? AES.GCM.open(box, using: key),
            let value = try? JSONScanner.parse(Array(plain)),
            let node = value["n"]?.stringValue, let call = value["c"]?.stringValue,
            let subject = value["s"]?.stringValue, let method = value["m"]?.stringValue
        else { return nil }
        return InputRoundToken(
            node: node,
            call: call,
            subject: subject,
            serverID: value["srv"]?.stringValue,
            method: method,
            name: value["x"]?.stringValue,
            upstreamState: value["u"]?.stringValue
        )
    }
}
