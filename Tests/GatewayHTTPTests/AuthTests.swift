import Foundation
import GatewayHTTP
import Testing

@Suite struct TokenAuthorityTests {
    static let secret = String(repeating: "0123456789abcdef", count: 3)

    @Test func issuedTokensAuthenticate() async throws {
        let authority = await TokenAuthority(secret: Self.secret)
        let token = try await authority.issue(subject: "alice@example.com", lifetime: .seconds(60))
        #expect(try await authority.authenticate(token).subject == "alice@example.com")
        // Second time from the cache.
        #expect(try await authority.authenticate(token).subject == "alice@example.com")
    }

    @Test func tokensFromAnotherSecretAreRefused() async throws {
        let other = await TokenAuthority(secret: String(repeating: "x", count: 48))
        let token = try await other.issue(subject: "mallory", lifetime: .seconds(60))
        let authority = await TokenAuthority(secret: Self.secret)
        await #expect(throws: AuthenticationError.self) { try await authority.authenticate(token) }
    }

    @Test func expiredTokensAreRefused() async throws {
        let authority = await TokenAuthority(secret: Self.secret)
        let token = try await authority.issue(subject: "bob", lifetime: .seconds(-10))
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

@Suite struct SessionSealerTests {
    let facts = SessionFacts(
        key: SessionSealer.newKey(), protocolVersion: "2025-11-25", subject: "alice", serverID: "srv", createdAt: 42)

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
