import Foundation
import GatewayCore
import JWTKit
import Synchronization

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
    let cache = Mutex<[String: (principal: Principal, expiry: Date)]>([:])
    let maximumCachedTokens = 4096

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
        if let cached = cache.withLock({ $0[token] }), cached.expiry > now { return cached.principal }
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
        cache.withLock { cache in
            if cache.count >= maximumCachedTokens { cache.removeAll(keepingCapacity: true) }
            cache[token] = (principal, claims.exp.value)
        }
        return principal
    }

    /// The `alg` of a compact JWT's header, or `nil` when it cannot be read.
    static func headerAlgorithm(of token: String) -> String? {
        guard let headerPart = token.split(separator: ".", omittingEmptySubsequences: false).first,
            let data = Base64URL.decode(String(headerPart)),
            let header = try? JSONScanner.parse(Array(data))
        else { return nil }
        return header["alg"]?.stringValue
    }
}

/// base64url without padding.
enum Base64URL {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, character) in alphabet.enumerated() { table[Int(character)] = UInt8(index) }
        table[Int(UInt8(ascii: "+"))] = 62
        table[Int(UInt8(ascii: "/"))] = 63
        return table
    }()

    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let input = Array(bytes)
        var output = [UInt8]()
        output.reserveCapacity((input.count * 4 + 2) / 3)
        var index = 0
        while index < input.count {
            let chunk = min(3, input.count - index)
            var value = UInt32(input[index]) << 16
            if chunk > 1 { value |= UInt32(input[index + 1]) << 8 }
            if chunk > 2 { value |= UInt32(input[index + 2]) }
            for position in 0...chunk { output.append(alphabet[Int((value >> (18 - 6 * UInt32(position))) & 0x3F)]) }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes base64url (or base64), with or without padding; `nil` for any other character.
    static func decode(_ text: String) -> [UInt8]? {
        var output = [UInt8]()
        output.reserveCapacity(text.utf8.count * 3 / 4)
        var bits: UInt32 = 0
        var count = 0
        for character in text.utf8 {
            if character == UInt8(ascii: "=") { break }
            let value = values[Int(character)]
            guard value != 0xFF else { return nil }
            bits = bits << 6 | UInt32(value)
            count += 6
            if count >= 8 {
                count -= 8
                output.append(UInt8((bits >> UInt32(count)) & 0xFF))
            }
        }
        return output
    }
}
