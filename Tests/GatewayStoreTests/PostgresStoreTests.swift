import Foundation
import GatewayCore
import GatewayStore
import Logging
import Testing

/// The PostgreSQL store against a real server, when `GATEWAY_TEST_POSTGRES_URL` names an empty
/// database (the integration tests in Tests/Integration/test_postgres_store.py start their own
/// server and always run; these cover what the REST API cannot reach, such as fencing).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["GATEWAY_TEST_POSTGRES_URL"] != nil))
struct PostgresStoreTests {
    func withStore(_ body: (PostgresStore) async throws -> Void) async throws {
        let url = try #require(ProcessInfo.processInfo.environment["GATEWAY_TEST_POSTGRES_URL"])
        let store = try await PostgresStore.open(
            url: url,
            poolSize: 4,
            cipher: CredentialCipher(secret: "test-secret-of-at-least-32-bytes!!"),
            logger: Logger(label: "test")
        )
        do {
            try await store.migrate()
            try await store.migrate()  // idempotent
            try await body(store)
        } catch {
            try await store.close()
            throw error
        }
        try await store.close()
    }

    func gateway(_ id: String, description: String?) -> GatewayRecord {
        GatewayRecord(
            id: id,
            name: "Fenced \(id)",
            slug: "fenced-\(id)",
            url: "http://127.0.0.1:1/mcp",
            description: description,
            transport: .streamableHTTP,
            enabled: true,
            reachable: true,
            capabilities: ["tools": [:]],
            protocolVersion: "2025-11-25",
            auth: UpstreamAuth(type: "bearer", headers: [("Authorization", "Bearer upstream")]),
            createdAt: .now(),
            updatedAt: .now(),
            lastSeen: nil
        )
    }

    static let noItems = GatewayItems(tools: [], resources: [], resourceTemplates: [], prompts: [])

    @Test func fencingRefusesOlderEpochsEvenWhenRacing() async throws {
        try await withStore { store in
            let id = UUID().uuidString
            try await store.insertGateway(gateway(id, description: "registered"), items: Self.noItems)
            let base = Int64(Date().timeIntervalSince1970 * 1000)
            try await store.updateGateway(gateway(id, description: "newer"), items: nil, fencingEpoch: base + 10)
            await #expect(throws: StoreError.self) {
                try await store.updateGateway(gateway(id, description: "older"), items: nil, fencingEpoch: base + 5)
            }
            var descriptions = try await store.loadCatalog().gateways.filter { $0.id == id }.map(\.description)
            #expect(descriptions == ["newer"])

            // Many writers at once with increasing epochs: whatever interleaving, the stored row
            // is the one with the newest epoch that was accepted, and every refusal is `.fenced`.
            let outcomes = try await withThrowingTaskGroup(of: (Int64, Bool).self) { group in
                for epoch in (base + 11)...(base + 30) {
                    group.addTask {
                        do {
                            try await store.updateGateway(
                                gateway(id, description: "epoch \(epoch)"),
                                items: nil,
                                fencingEpoch: epoch
                            )
                            return (epoch, true)
                        } catch let error as StoreError where error.code == .fenced {
                            return (epoch, false)
                        }
                    }
                }
                return try await group.reduce(into: [(Int64, Bool)]()) { $0.append($1) }
            }
            let accepted = outcomes.filter(\.1).map(\.0)
            #expect(accepted.contains(base + 30))
            descriptions = try await store.loadCatalog().gateways.filter { $0.id == id }.map(\.description)
            #expect(descriptions == ["epoch \(base + 30)"])
            #expect(try await store.loadCatalog().gateways.first { $0.id == id }?.auth.type == "bearer")
            #expect(try await store.deleteGateway(id: id))
        }
    }

    @Test func duplicateNamesAreConflicts() async throws {
        try await withStore { store in
            let first = gateway(UUID().uuidString, description: nil)
            try await store.insertGateway(first, items: Self.noItems)
            var second = gateway(UUID().uuidString, description: nil)
            second.name = first.name
            do {
                try await store.insertGateway(second, items: Self.noItems)
                Issue.record("a duplicate name was stored")
            } catch let error as StoreError {
                #expect(error.code == .conflict)
                #expect(error.message == "a name or id is already in use")
            }
            #expect(try await store.deleteGateway(id: first.id))
            #expect(try await store.deleteGateway(id: second.id) == false)
        }
    }
}
