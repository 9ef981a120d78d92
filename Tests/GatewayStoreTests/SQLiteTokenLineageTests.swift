import Foundation
import GatewayCore
import GatewayStore
import Logging
import Testing

/// Token records keep their lineage: revoking a token revokes every token minted from it, and a
/// token cannot be recorded under a parent that is revoked already.
@Suite struct SQLiteTokenLineageTests {
    func token(_ id: String, parent: String? = nil, subject: String = "dev") -> APITokenRecord {
        APITokenRecord(
            id: id,
            subject: subject,
            name: "token \(id)",
            description: nil,
            serverID: nil,
            createdAt: Timestamp(millisecondsSince1970: 1000),
            expiresAt: Timestamp(millisecondsSince1970: 9_000_000_000_000),
            parentID: parent
        )
    }

    @Test func revokingATokenRevokesItsDescendantsAndNoneCanBeAddedAfter() async throws {
        let store = try await SQLiteStore.open(
            path: NSTemporaryDirectory() + "lineage-\(UUID().uuidString).db",
            cipher: CredentialCipher(secret: "test-secret-of-at-least-32-bytes!!"),
            logger: Logger(label: "test")
        )
        do {
            try await store.migrate()
            for record in [token("root"), token("child", parent: "root"), token("grandchild", parent: "child")] {
                try await store.insertToken(record)
            }
            try await store.insertToken(token("other", subject: "someone-else"))
            #expect(try await store.revokeToken(id: "child", subject: "someone-else", at: .now()) == nil)
            let revoked = try await store.revokeToken(id: "root", subject: nil, at: .now())
            #expect(
                revoked?.map(\.id) == ["root", "child", "grandchild"]
                    || revoked?.map(\.id) == ["root", "grandchild", "child"]
            )
            let active = try await store.tokens(subject: nil).filter { $0.revokedAt == nil }.map(\.id)
            #expect(active == ["other"])
            await #expect(throws: StoreError.self) { try await store.insertToken(token("late", parent: "child")) }
            #expect(try await store.tokens(subject: "dev").count == 3)
        } catch {
            try await store.close()
            throw error
        }
        try await store.close()
    }
}
