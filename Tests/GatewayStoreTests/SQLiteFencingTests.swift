import Foundation
import GatewayCore
import GatewayStore
import Logging
import Testing

/// Leader-only writes carry a fencing epoch: the SQLite store applies them while the epoch is
/// not older than the newest it has recorded, and refuses older ones without changing anything.
@Suite struct SQLiteFencingTests {
    func withStore(_ body: (SQLiteStore) async throws -> Void) async throws {
        let store = try await SQLiteStore.open(
            path: NSTemporaryDirectory() + "fencing-\(UUID().uuidString).db",
            cipher: CredentialCipher(secret: "test-secret-of-at-least-32-bytes!!"),
            logger: Logger(label: "test")
        )
        do {
            try await store.migrate()
            try await body(store)
        } catch {
            try await store.close()
            throw error
        }
        try await store.close()
    }

    func gateway(description: String) -> GatewayRecord {
        GatewayRecord(
            id: "g1",
            name: "Fenced",
            slug: "fenced",
            url: "http://127.0.0.1:1/mcp",
            description: description,
            transport: .streamableHTTP,
            enabled: true,
            reachable: true,
            capabilities: ["tools": [:]],
            protocolVersion: "2025-11-25",
            auth: .none,
            createdAt: Timestamp(millisecondsSince1970: 1000),
            updatedAt: Timestamp(millisecondsSince1970: 1000),
            lastSeen: nil
        )
    }

    func items(tool: String) -> GatewayItems {
        GatewayItems(
            tools: [
                ToolRecord(
                    id: "t-\(tool)",
                    gatewayID: "g1",
                    originalName: tool,
                    name: "fenced-\(tool)",
                    definition: JSONObject([("name", .string(tool))]),
                    enabled: true,
                    createdAt: Timestamp(millisecondsSince1970: 1000)
                )
            ],
            resources: [],
            resourceTemplates: [],
            prompts: []
        )
    }

    @Test func aNewerEpochAppliesAndAnOlderOneIsRefusedWithoutChanges() async throws {
        try await withStore { store in
            try await store.insertGateway(gateway(description: "registered"), items: items(tool: "first"))

            try await store.updateGateway(
                gateway(description: "epoch 5"),
                items: items(tool: "second"),
                fencingEpoch: 5
            )
            var contents = try await store.loadCatalog()
            #expect(contents.gateways.map(\.description) == ["epoch 5"])
            #expect(contents.tools.map(\.originalName) == ["second"])

            do {
                try await store.updateGateway(
                    gateway(description: "epoch 3"),
                    items: items(tool: "stale"),
                    fencingEpoch: 3
                )
                Issue.record("a write with an older epoch was applied")
            } catch let error as StoreError {
                #expect(error.code == .fenced)
            }
            contents = try await store.loadCatalog()
            #expect(contents.gateways.map(\.description) == ["epoch 5"])
            #expect(contents.tools.map(\.originalName) == ["second"])

            // The same epoch again, and a newer one, still apply; after that 5 is stale too.
            try await store.updateGateway(gateway(description: "epoch 5 again"), items: nil, fencingEpoch: 5)
            try await store.updateGateway(gateway(description: "epoch 7"), items: nil, fencingEpoch: 7)
            #expect(try await store.loadCatalog().gateways.map(\.description) == ["epoch 7"])
            await #expect(throws: StoreError.self) {
                try await store.updateGateway(gateway(description: "epoch 5 late"), items: nil, fencingEpoch: 5)
            }
            #expect(try await store.loadCatalog().gateways.map(\.description) == ["epoch 7"])
        }
    }

    @Test func unfencedUpdatesNeitherCheckNorRecordAnEpoch() async throws {
        try await withStore { store in
            try await store.insertGateway(gateway(description: "registered"), items: items(tool: "first"))
            try await store.updateGateway(gateway(description: "epoch 2"), items: nil, fencingEpoch: 2)
            try await store.updateGateway(gateway(description: "operator edit"), items: nil)
            #expect(try await store.loadCatalog().gateways.map(\.description) == ["operator edit"])
            try await store.updateGateway(gateway(description: "epoch 2 again"), items: nil, fencingEpoch: 2)
            #expect(try await store.loadCatalog().gateways.map(\.description) == ["epoch 2 again"])
        }
    }
}
