import Foundation
import JWTKit

/// How the gateway's tokens are signed and checked (JWT_ALGORITHM and its keys). Exactly one
/// algorithm is accepted; a token whose header names another one is refused unread.
public enum TokenSigning: Sendable {
    /// HMAC-SHA256 with a shared secret of at least 32 bytes.
    case hs256(secret: String)
    /// RSA PKCS#1 v1.5 with SHA-256; the private key is needed only to issue tokens.
    case rs256(publicKeyPEM: String, privateKeyPEM: String?)
    /// ECDSA P-256 with SHA-256; the private key is needed only to issue tokens.
    case es256(publicKeyPEM: String, privateKeyPEM: String?)

    /// The `alg` header value tokens must carry.
    public var algorithm: String {
        switch self {
        case .hs256: "HS256"
        case .rs256: "RS256"
        case .es256: "ES256"
        }
    }

    /// Whether this gateway can sign tokens (it holds the secret or the private key).
    public var canIssue: Bool {
        switch self {
        case .hs256: true
        case .rs256(_, let key), .es256(_, let key): key != nil
        }
    }

    /// The key collection: the signing key when there is one, else the verifying key.
    package func keys() async throws -> JWTKeyCollection {
        let keys = JWTKeyCollection()
        switch self {
        case .hs256(let secret):
            await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        case .rs256(let publicPEM, let privatePEM):
            if let privatePEM {
                await keys.add(rsa: try Insecure.RSA.PrivateKey(pem: privatePEM), digestAlgorithm: .sha256)
            } else {
                await keys.add(rsa: try Insecure.RSA.PublicKey(pem: publicPEM), digestAlgorithm: .sha256)
            }
        case .es256(let publicPEM, let privatePEM):
            if let privatePEM {
                await keys.add(ecdsa: try ES256PrivateKey(pem: privatePEM))
            } else {
                await keys.add(ecdsa: try ES256PublicKey(pem: publicPEM))
            }
        }
        return keys
    }
}

/// The claims every accepted token must satisfy besides its signature and expiry.
public struct TokenPolicy: Sendable {
    /// `iss` written into issued tokens and, when `verifyIssuer`, required of presented ones.
    public var issuer: String = "mcpgateway"
    /// `aud` written into issued tokens and, when `verifyAudience`, required of presented ones.
    public var audience: String = "mcpgateway-api"
    public var verifyIssuer = true
    public var verifyAudience = true

    public init() {}
}
