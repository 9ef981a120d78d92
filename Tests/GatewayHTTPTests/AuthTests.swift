import Foundation
import GatewayAuth
import GatewayCore
import GatewayHTTP
import JWTKit
import Testing

@Suite struct TokenAuthorityTests {
    static let secret = String(repeating: "0123456789abcdef", count: 3)

    @Test func issuedTokensAuthenticate() async throws {
        let authority = await TokenAuthority(secret: Self.secret)
        let token = try await authority.issue(subject: "alice@example.com", lifetime: .seconds(60)).token
        #expect(try await authority.authenticate(token).subject == "alice@example.com")
        // Second time from the cache.
        #expect(try await authority.authenticate(token).subject == "alice@example.com")
    }

    @Test func tokensFromAnotherSecretAreRefused() async throws {
        let other = await TokenAuthority(secret: String(repeating: "x", count: 48))
        let token = try await other.issue(subject: "mallory", lifetime: .seconds(60)).token
        let authority = await TokenAuthority(secret: Self.secret)
        await #expect(throws: AuthenticationError.self) { try await authority.authenticate(token) }
    }

    @Test func expiredTokensAreRefused() async throws {
        let authority = await TokenAuthority(secret: Self.secret)
        let token = try await authority.issue(subject: "bob", lifetime: .seconds(-10)).token
        do {
            _ = try await authority.authenticate(token)
            Issue.record("expired token accepted")
        } catch {
            #expect(error.message.contains("expired"))
        }
    }

    @Test(arguments: [
        // {"alg":"none","typ":"JWT"} . {"sub":"x","exp":9999999999} . (no signature)
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4IiwiZXhwIjo5OTk5OTk5OTk5fQ.",
        "not-a-token", "", "a.b.c",
    ])
    func malformedOrUnsignedTokensAreRefused(_ token: String) async {
        let authority = await TokenAuthority(secret: Self.secret)
        await #expect(throws: AuthenticationError.self) { try await authority.authenticate(token) }
    }
}

@Suite struct TokenLifecycleTests {
    static let secret = TokenAuthorityTests.secret

    @Test func revokedTokensAreRefusedEvenWhenCached() async throws {
        let authority = await TokenAuthority(secret: Self.secret)
        let issued = try await authority.issue(subject: "carol", lifetime: .seconds(60))
        #expect(try await authority.authenticate(issued.token).tokenID == issued.id)
        authority.revocations.revoke(issued.id, until: issued.expiresAt)
        do {
            _ = try await authority.authenticate(issued.token)
            Issue.record("revoked token accepted")
        } catch {
            #expect(error.message.contains("revoked"))
        }
        // Another token of the same subject is unaffected.
        let other = try await authority.issue(subject: "carol", lifetime: .seconds(60))
        #expect(try await authority.authenticate(other.token).subject == "carol")
    }

    @Test func scopeAndAdminClaimsRoundTrip() async throws {
        let authority = await TokenAuthority(secret: Self.secret)
        let scoped = try await authority.issue(subject: "agent", lifetime: .seconds(60), serverScope: "srv-1")
        let principal = try await authority.authenticate(scoped.token)
        #expect(principal.serverScope == "srv-1" && !principal.isAdmin)
        let admin = try await authority.issue(subject: "root", lifetime: .seconds(60), admin: true)
        #expect(try await authority.authenticate(admin.token).isAdmin)
    }

    @Test func issuerAndAudienceAreChecked() async throws {
        var foreign = TokenPolicy()
        foreign.issuer = "someone-else"
        let issuedElsewhere = try await TokenAuthority(signing: .hs256(secret: Self.secret), policy: foreign)
            .issue(subject: "x", lifetime: .seconds(60)).token
        let authority = await TokenAuthority(secret: Self.secret)
        await #expect(throws: AuthenticationError.self) { try await authority.authenticate(issuedElsewhere) }
        var otherAudience = TokenPolicy()
        otherAudience.audience = "another-api"
        let forAnotherAPI = try await TokenAuthority(signing: .hs256(secret: Self.secret), policy: otherAudience)
            .issue(subject: "x", lifetime: .seconds(60)).token
        await #expect(throws: AuthenticationError.self) { try await authority.authenticate(forAnotherAPI) }
        // With verification off, the same tokens pass.
        var lenient = TokenPolicy()
        lenient.verifyIssuer = false
        lenient.verifyAudience = false
        let relaxed = try await TokenAuthority(signing: .hs256(secret: Self.secret), policy: lenient)
        #expect(try await relaxed.authenticate(issuedElsewhere).subject == "x")
        #expect(try await relaxed.authenticate(forAnotherAPI).subject == "x")
    }

    @Test func es256TokensVerifyAndAlgorithmConfusionIsRefused() async throws {
        let key = ES256PrivateKey()
        let publicPEM = key.publicKey.pemRepresentation
        let issuer = try await TokenAuthority(
            signing: .es256(publicKeyPEM: publicPEM, privateKeyPEM: key.pemRepresentation)
        )
        let verifier = try await TokenAuthority(signing: .es256(publicKeyPEM: publicPEM, privateKeyPEM: nil))
        #expect(!verifier.canIssue)
        let token = try await issuer.issue(subject: "es", lifetime: .seconds(60)).token
        #expect(try await verifier.authenticate(token).subject == "es")
        // The classic confusion attack: an HS256 token whose HMAC secret is the public key.
        let forged = try await TokenAuthority(signing: .hs256(secret: publicPEM)).issue(
            subject: "mallory",
            lifetime: .seconds(60)
        )
        await #expect(throws: AuthenticationError.self) { try await verifier.authenticate(forged.token) }
    }
}

@Suite struct SessionSealerTests {
    let facts = SessionFacts(
        key: SessionSealer.newKey(),
        protocolVersion: "2025-11-25",
        subject: "alice",
        serverID: "srv",
        createdAt: 42
    )

    @Test func sealedSessionsOpenToTheSameFacts() throws {
        let sealer = SessionSealer(secret: String(repeating: "k", count: 32))
        let id = try sealer.seal(facts)
        #expect(sealer.open(id) == facts)
        #expect(!id.contains("alice"))
    }

    @Test func alteredOrForeignSessionIdsDoNotOpen() throws {
        let sealer = SessionSealer(secret: String(repeating: "k", count: 32))
        var id = Array(try sealer.seal(facts))
        id[id.count / 2] = id[id.count / 2] == "A" ? "B" : "A"
        #expect(sealer.open(String(id)) == nil)
        let foreign = try SessionSealer(secret: String(repeating: "z", count: 32)).seal(facts)
        #expect(sealer.open(foreign) == nil)
        #expect(sealer.open("") == nil)
        #expect(sealer.open(String(repeating: "A", count: 10000)) == nil)
    }
}
