import ExtrasBase64
import Foundation
import GatewayCore
import JWTKit

/// The claims of the gateway's bearer tokens (ContextForge-compatible: `sub` is the user).
package struct GatewayClaims: JWTPayload {
    package struct Scopes: Codable, Sendable {
        var serverID: String?
        enum CodingKeys: String, CodingKey { case serverID = "server_id" }
    }

    package var sub: SubjectClaim
    package var exp: ExpirationClaim
    package var iat: IssuedAtClaim
    package var jti: IDClaim
    package var nbf: NotBeforeClaim?
    package var iss: IssuerClaim?
    package var aud: AudienceClaim?
    package var isAdmin: Bool?
    package var scopes: Scopes?

    package enum CodingKeys: String, CodingKey {
        case sub, exp, iat, jti, nbf, iss, aud, scopes
        case isAdmin = "is_admin"
    }

    package func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }
}

/// A token just signed, with what its record needs.
public struct IssuedToken: Sendable {
    public var token: String
    public var id: String
    public var expiresAt: Timestamp
}

/// Issues and checks the gateway's bearer tokens.
///
/// - The algorithm is pinned (``TokenSigning``): a token whose header names any other algorithm,
///   `none` included, is refused before its signature is looked at, so an RS256 public key can
///   never be used as an HS256 secret.
/// - `exp` is required, `iss` and `aud` are checked by ``TokenPolicy``, and a token whose `jti`
///   is in ``TokenRevocations`` is refused.
/// - Verified tokens are cached until they expire (bounded); revocation is checked on every hit.
public final class TokenAuthority: Sendable {
    package let keys: JWTKeyCollection
    package let signing: TokenSigning
    package let policy: TokenPolicy
    public let revocations: TokenRevocations
    package let cache = BoundedCache<(principal: Principal, expiry: Date)>(capacity: 4096)

    /// - Throws: when a PEM key cannot be read.
    public convenience init(
        signing: TokenSigning,
        policy: TokenPolicy = TokenPolicy(),
        revocations: TokenRevocations = TokenRevocations()
    ) async throws {
        self.init(keys: try await signing.keys(), signing: signing, policy: policy, revocations: revocations)
    }

    /// An HS256 authority with the default policy.
    /// - Parameter secret: the HMAC secret (JWT_SECRET_KEY), at least 32 bytes.
    public convenience init(secret: String) async {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.init(keys: keys, signing: .hs256(secret: secret), policy: TokenPolicy(), revocations: TokenRevocations())
    }

    package init(keys: JWTKeyCollection, signing: TokenSigning, policy: TokenPolicy, revocations: TokenRevocations) {
        self.keys = keys
        self.signing = signing
        self.policy = policy
        self.revocations = revocations
    }

    /// Whether this gateway holds the key to sign tokens.
    public var canIssue: Bool { signing.canIssue }

    /// Signs a token for `subject` valid for `lifetime`.
    public func issue(
        subject: String,
        lifetime: Duration,
        admin: Bool = false,
        serverScope: String? = nil
    ) async throws -> IssuedToken {
        let now = Date()
        let expiry = now.addingTimeInterval(Double(lifetime.components.seconds))
        let id = UUID().uuidString.lowercased()
        let claims = GatewayClaims(
            sub: SubjectClaim(value: subject),
            exp: ExpirationClaim(value: expiry),
            iat: IssuedAtClaim(value: now),
            jti: IDClaim(value: id),
            nbf: nil,
            iss: IssuerClaim(value: policy.issuer),
            aud: AudienceClaim(value: [policy.audience]),
            isAdmin: admin ? true : nil,
            scopes: serverScope.map { GatewayClaims.Scopes(serverID: $0) }
        )
        let token = try await keys.sign(claims)
        return IssuedToken(
            token: token,
            id: id,
            expiresAt: Timestamp(millisecondsSince1970: Int64(expiry.timeIntervalSince1970 * 1000))
        )
    }

    /// Checks a bearer token and returns its principal.
    public func authenticate(_ token: String) async throws(AuthenticationError) -> Principal {
        let now = Date()
        if let cached = cache.value(for: token), cached.expiry > now {
            try checkNotRevoked(cached.principal)
            return cached.principal
        }
        guard Self.headerAlgorithm(of: token) == signing.algorithm else {
            throw AuthenticationError(message: "the token is not an \(signing.algorithm) JWT")
        }
        let claims: GatewayClaims
        do {
            claims = try await keys.verify(token, as: GatewayClaims.self)
        } catch let error as JWTError where error.errorType == .claimVerificationFailure {
            throw AuthenticationError(message: "the token has expired")
        } catch {
            throw AuthenticationError(message: "the token is invalid")
        }
        // Issued in the future, beyond a minute of clock skew.
        guard claims.iat.value.timeIntervalSince(now) < 60 else {
            throw AuthenticationError(message: "the token was issued in the future")
        }
        if let notBefore = claims.nbf?.value, notBefore > now {
            throw AuthenticationError(message: "the token is not valid yet (nbf)")
        }
        if policy.verifyIssuer, claims.iss?.value != policy.issuer {
            throw AuthenticationError(message: "the token's issuer is not accepted")
        }
        if policy.verifyAudience, claims.aud?.value.contains(policy.audience) != true {
            throw AuthenticationError(message: "the token's audience is not accepted")
        }
        var principal = Principal(
            subject: claims.sub.value,
            isAdmin: claims.isAdmin == true,
            serverScope: claims.scopes?.serverID,
            tokenID: claims.jti.value
        )
        principal.expiresAt = Timestamp(millisecondsSince1970: Int64(claims.exp.value.timeIntervalSince1970 * 1000))
        try checkNotRevoked(principal)
        cache.store((principal, claims.exp.value), for: token)
        return principal
    }

    package func checkNotRevoked(_ principal: Principal) throws(AuthenticationError) {
        if let id = principal.tokenID, revocations.isRevoked(id) {
            throw AuthenticationError(message: "the token has been revoked")
        }
    }

    /// The `alg` of a compact JWT's header, or `nil` when it cannot be read.
    package static func headerAlgorithm(of token: String) -> String? {
        guard let headerPart = token.split(separator: ".", omittingEmptySubsequences: false).first,
            let data = try? Base64.decode(
                string: String(headerPart),
                options: [.base64UrlAlphabet, .omitPaddingCharacter]
            ),
            let header = try? JSONScanner.parse(data)
        else { return nil }
        return header["alg"]?.stringValue
    }
}
