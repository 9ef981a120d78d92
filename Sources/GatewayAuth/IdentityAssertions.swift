import Crypto
import ExtrasBase64
import Foundation
import GatewayCore
import JWTKit

/// The claims of an identity assertion: `sub` the caller, `iss` the federating gateway's id,
/// `aud` the peer's gateway id, `bnd` the SHA-256 (base64url) of the `Authorization` value it
/// travels with, valid for a minute.
package struct IdentityClaims: JWTPayload {
    package var sub: SubjectClaim
    package var iss: IssuerClaim
    package var aud: AudienceClaim
    package var exp: ExpirationClaim
    package var iat: IssuedAtClaim
    package var jti: IDClaim
    package var bnd: String

    /// The binding of a credential: base64url SHA-256 of the `Authorization` header value.
    package static func binding(of credential: String) -> String {
        Base64.encodeToString(
            bytes: Array(SHA256.hash(data: Array(credential.utf8))),
            options: [.base64UrlAlphabet, .omitPaddingCharacter]
        )
    }

    package func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }
}

/// Signs identity assertions with this gateway's ES256 key (`IDENTITY_PROPAGATION_PRIVATE_KEY_FILE`).
public final class IdentityAsserter: IdentityAsserting {
    package let keys: JWTKeyCollection
    package let issuer: String
    /// Assertions reused while they have more than half their life left (signing costs more than
    /// a call's own work), per caller and peer; bounded.
    package let recent = BoundedCache<(token: String, expiry: Date)>(capacity: 4096)
    /// How long an assertion is valid: long enough for one call to be forwarded, not to be kept.
    package static let lifetime: TimeInterval = 60

    /// - Parameters:
    ///   - privateKeyPEM: a P-256 private key (SEC1 or PKCS#8 PEM).
    ///   - issuer: this deployment's gateway id.
    /// - Throws: when the key cannot be read.
    public init(privateKeyPEM: String, issuer: String) async throws {
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: try ES256PrivateKey(pem: privateKeyPEM))
        self.keys = keys
        self.issuer = issuer
    }

    public func assertion(subject: String, audience: String, credential: String) async -> String? {
        let now = Date()
        let binding = IdentityClaims.binding(of: credential)
        let key = subject + "\u{0}" + audience + "\u{0}" + binding
        if let cached = recent.value(for: key), cached.expiry.timeIntervalSince(now) > Self.lifetime / 2 {
            return cached.token
        }
        let claims = IdentityClaims(
            sub: SubjectClaim(value: subject),
            iss: IssuerClaim(value: issuer),
            aud: AudienceClaim(value: [audience]),
            exp: ExpirationClaim(value: now.addingTimeInterval(Self.lifetime)),
            iat: IssuedAtClaim(value: now),
            jti: IDClaim(value: UUID().uuidString.lowercased()),
            bnd: binding
        )
        guard let token = try? await keys.sign(claims) else { return nil }
        recent.store((token, claims.exp.value), for: key)
        return token
    }
}

/// Checks identity assertions from a trusted federating gateway (`IDENTITY_PROPAGATION_TRUSTED_KEY_FILE`):
/// ES256 only, signed by the trusted key, addressed to this gateway, unexpired, issued at most a
/// minute ahead of this clock.
public final class IdentityVerifier: Sendable {
    package let keys: JWTKeyCollection
    package let audience: String

    /// - Parameters:
    ///   - publicKeyPEM: the federating gateway's P-256 public key.
    ///   - audience: this deployment's gateway id.
    public init(publicKeyPEM: String, audience: String) async throws {
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: try ES256PublicKey(pem: publicKeyPEM))
        self.keys = keys
        self.audience = audience
    }

    /// The caller an assertion names and the gateway that made it; `credential` is the
    /// `Authorization` value the request presented, which the assertion must be bound to.
    public func verify(
        _ token: String,
        credential: String
    ) async throws(AuthenticationError) -> (subject: String, gateway: String) {
        guard TokenAuthority.headerAlgorithm(of: token) == "ES256" else {
            throw AuthenticationError(message: "the identity assertion is not an ES256 JWT")
        }
        let claims: IdentityClaims
        do {
            claims = try await keys.verify(token, as: IdentityClaims.self)
        } catch {
            throw AuthenticationError(message: "the identity assertion is invalid or expired")
        }
        guard claims.bnd == IdentityClaims.binding(of: credential) else {
            throw AuthenticationError(message: "the identity assertion was made for another token")
        }
        guard claims.aud.value.contains(audience) else {
            throw AuthenticationError(message: "the identity assertion is for another gateway")
        }
        guard claims.iat.value.timeIntervalSinceNow < 60, claims.exp.value.timeIntervalSince(claims.iat.value) <= 300
        else {
            throw AuthenticationError(message: "the identity assertion's lifetime is not accepted")
        }
        guard !claims.sub.value.isEmpty, claims.sub.value.utf8.count <= 255, claims.iss.value.utf8.count <= 128,
            !claims.sub.value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw AuthenticationError(message: "the identity assertion names no acceptable subject")
        }
        return (claims.sub.value, claims.iss.value)
    }
}
