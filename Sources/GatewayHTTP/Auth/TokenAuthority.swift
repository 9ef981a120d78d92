import ExtrasBase64
import Foundation
import GatewayCore
import JWTKit

/// The claims of the gateway's bearer tokens (ContextForge-compatible: `sub` is the user).
struct GatewayClaims: JWTPayload {
    var sub: SubjectClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    var jti: IDClaim
    var iss: IssuerClaim?
    var aud: AudienceClaim?

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }
}

/// Who made a request, once their token was accepted.
public struct Principal: Sendable, Hashable {
    /// The token's subject (a user name or e-mail).
    public var subject: String
    public init(subject: String) { self.subject = subject }
}

/// Why a bearer token was refused. The message is safe to return; it never echoes the token.
public struct AuthenticationError: Error, Sendable {
    public var message: String
}

/// Issues and checks HS256 bearer tokens. The algorithm is pinned: a token whose header names
/// any other algorithm (including `none`) is refused before its signature is looked at.
/// Verified tokens are cached until they expire (bounded), so the hot path does not re-verify.
public final class TokenAuthority: Sendable {
    let keys: JWTKeyCollection
    let cache = BoundedCache<(principal: Principal, expiry: Date)>(capacity: 4096)

    /// - Parameter secret: the HMAC secret (JWT_SECRET_KEY), at least 32 bytes.
    public init(secret: String) async {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.keys = keys
    }

    /// Signs a token for `subject` valid for `lifetime`.
    public func issue(subject: String, lifetime: Duration) async throws -> String {
        let now = Date()
        let claims = GatewayClaims(
            sub: SubjectClaim(value: subject),
            exp: ExpirationClaim(value: now.addingTimeInterval(Double(lifetime.components.seconds))),
            iat: IssuedAtClaim(value: now),
            jti: IDClaim(value: UUID().uuidString.lowercased()),
            iss: IssuerClaim(value: "mcpgateway"),
            aud: AudienceClaim(value: ["mcpgateway-api"]))
        return try await keys.sign(claims)
    }

    /// Checks a bearer token and returns its principal.
    public func authenticate(_ token: String) async throws(AuthenticationError) -> Principal {
        let now = Date()
        if let cached = cache.value(for: token), cached.expiry > now { return cached.principal }
        guard Self.headerAlgorithm(of: token) == "HS256" else {
            throw AuthenticationError(message: "the token is not an HS256 JWT")
        }
        let claims: GatewayClaims
        do {
            claims = try await keys.verify(token, as: GatewayClaims.self)
        } catch let error as JWTError where error.errorType == .claimVerificationFailure {
            throw AuthenticationError(message: "the token has expired")
        } catch {
            throw AuthenticationError(message: "the token is invalid")
        }
        let principal = Principal(subject: claims.sub.value)
        cache.store((principal, claims.exp.value), for: token)
        return principal
    }

    /// The `alg` of a compact JWT's header, or `nil` when it cannot be read.
    static func headerAlgorithm(of token: String) -> String? {
        guard let headerPart = token.split(separator: ".", omittingEmptySubsequences: false).first,
            let data = try? Base64.decode(string: String(headerPart), options: [.base64UrlAlphabet, .omitPaddingCharacter]),
            let header = try? JSONScanner.parse(data)
        else { return nil }
        return header["alg"]?.stringValue
    }
}
