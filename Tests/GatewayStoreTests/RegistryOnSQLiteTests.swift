import Foundation
import GatewayCluster
import GatewayCore
import GatewayStore
import GatewayTesting
import Logging
import Synchronization
import Testing

@Suite struct RegistryOnSQLiteTests {
    /// Runs `body` with a registry on a fresh (or the given) SQLite file, closing the store after.
    func withRegistry(
        _ upstream: any UpstreamClient,
        path: String? = nil,
        _ body: (Registry, any Store) async throws -> Void
    ) async throws {
        let file = path ?? NSTemporaryDirectory() + "registry-\(UUID().uuidString).db"
        let store = try await SQLiteStore.open(
            path: file,
            cipher: CredentialCipher(secret: "test-secret-of-at-least-32-bytes!!"),
            logger: Logger(label: "test")
        )
        do {
            try await store.migrate()
            try await store.migrate()  // idempotent
            let registry = Registry(
                store: store,
                upstream: upstream,
                coordinator: InProcessCoordinator(nodeID: "n"),
                catalog: CatalogHolder(),
                naming: Naming(separator: "-"),
                discoveryTimeout: .seconds(5),
                logger: Logger(label: "test")
            )
            try await registry.reload()
            try await body(registry, store)
        } catch {
            try await store.close()
            throw error
        }
        try await store.close()
    }

    func input(_ name: String) -> GatewayInput {
        GatewayInput(
            name: name,
            url: "http://127.0.0.1:1/mcp",
            transport: .streamableHTTP,
            description: nil,
            auth: .none
        )
    }

    @Test func registersPersistsAndReloadsACatalog() async throws {
        let path = NSTemporaryDirectory() + "registry-\(UUID().uuidString).db"
        try await withRegistry(ScriptedUpstream(tools: ["echo", "add"]), path: path) { registry, _ in
            let gateway = try await registry.registerGateway(input("Git Hub"))
            #expect(gateway.slug == "git-hub")
            #expect(registry.catalog.snapshot.fullView.toolRoutes.keys.sorted() == ["git-hub-add", "git-hub-echo"])
        }
        try await withRegistry(ScriptedUpstream(tools: []), path: path) { reopened, _ in
            let contents = reopened.catalog.snapshot.contents
            #expect(contents.gateways.map(\.name) == ["Git Hub"])
            #expect(Set(contents.tools.map(\.name)) == ["git-hub-add", "git-hub-echo"])
            #expect(contents.resources.map(\.uri) == ["data://r"])
            #expect(contents.prompts.map(\.name) == ["git-hub-p"])
        }
    }

    @Test func aReListingThatFindsNothingNewWritesNothing() async throws {
        let upstream = ScriptedUpstream(tools: ["echo"])
        try await withRegistry(upstream) { registry, store in
            let gateway = try await registry.registerGateway(input("quiet"))
            let seen = try await store.loadCatalog().gateways.first?.lastSeen
            try await Task.sleep(for: .milliseconds(5))  // a write would record a later lastSeen
            #expect(try await registry.refreshGateway(id: gateway.id, fencingEpoch: 1))
            #expect(try await store.loadCatalog().gateways.first?.lastSeen == seen, "nothing new: nothing written")
            upstream.tools.withLock { $0.append("more") }
            #expect(try await registry.refreshGateway(id: gateway.id, fencingEpoch: 1))
            #expect(try await store.loadCatalog().gateways.first?.lastSeen != seen)
            #expect(registry.catalog.snapshot.fullView.toolRoutes.keys.sorted() == ["quiet-echo", "quiet-more"])
        }
    }

    @Test func aFailedDiscoveryStoresNothing() async throws {
        try await withRegistry(ScriptedUpstream(tools: ["x"], failing: true)) { registry, store in
            await #expect(throws: RegistryError.self) { try await registry.registerGateway(input("down")) }
            let gateways = try await store.loadCatalog().gateways
            #expect(gateways.isEmpty)
        }
    }

    @Test func duplicateNamesAndCollidingToolNamesConflict() async throws {
        try await withRegistry(ScriptedUpstream(tools: ["b-c"])) { registry, store in
            _ = try await registry.registerGateway(input("a"))
            do {
                _ = try await registry.registerGateway(input("A"))
                Issue.record("a second gateway with the same slug was accepted")
            } catch let error as RegistryError {
                #expect(error.code == .conflict)
            }
            // "a" + "-" + "b-c" and "a-b" + "-" + "c" are the same qualified name.
            let upstream = ScriptedUpstream(tools: ["c"])
            let other = Registry(
                store: store,
                upstream: upstream,
                coordinator: registry.coordinator,
                catalog: registry.catalog,
                naming: registry.naming,
                discoveryTimeout: .seconds(5),
                logger: registry.logger
            )
            do {
                _ = try await other.registerGateway(input("a-b"))
                Issue.record("a colliding tool name was accepted")
            } catch let error as RegistryError {
                #expect(error.code == .conflict)
            }
            let gateways = try await store.loadCatalog().gateways
            #expect(gateways.count == 1)
        }
    }

    @Test func rediscoveryKeepsToolIDsSoServerMembershipsSurvive() async throws {
        let upstream = ScriptedUpstream(tools: ["echo", "old"])
        try await withRegistry(upstream) { registry, _ in
            let gateway = try await registry.registerGateway(input("gw"))
            let echo = try #require(registry.catalog.snapshot.contents.tools.first { $0.originalName == "echo" })
            let server = try await registry.createServer(
                ServerInput(
                    name: "s",
                    description: nil,
                    icon: nil,
                    toolIDs: [echo.id],
                    resourceIDs: nil,
                    promptIDs: nil
                )
            )
            upstream.tools.withLock { $0 = ["echo", "new"] }
            _ = try await registry.updateGateway(id: gateway.id, GatewayUpdate(url: "http://127.0.0.1:2/mcp"))
            let snapshot = registry.catalog.snapshot
            #expect(snapshot.toolsByID[echo.id]?.originalName == "echo")
            #expect(Set(snapshot.contents.tools.map(\.originalName)) == ["echo", "new"])
            #expect(snapshot.serversByID[server.id]?.toolIDs == [echo.id])
            #expect(snapshot.view(serverID: server.id)?.toolRoutes.keys.sorted() == ["gw-echo"])
        }
    }

    @Test func aRefreshNeverUndoesAChangeMadeWhileItListed() async throws {
        let upstream = ScriptedUpstream(tools: ["echo"])
        try await withRegistry(upstream) { registry, store in
            let gateway = try await registry.registerGateway(input("gw"))
            let gate = DiscoveryGate()
            upstream.gate.withLock { $0 = gate }
            upstream.tools.withLock { $0 = ["echo", "listed-late"] }
            async let refreshed = registry.refreshGateway(id: gateway.id, fencingEpoch: 1)
            for await _ in gate.started { break }
            // While the slow listing runs, an operator deactivates the gateway.
            upstream.gate.withLock { $0 = nil }
            _ = try await registry.setGatewayEnabled(id: gateway.id, enabled: false)
            gate.open()
            #expect(try await refreshed == false)
            let stored = try await store.loadCatalog()
            #expect(stored.gateways.first?.enabled == false, "the deactivation stands")
            #expect(!stored.tools.contains { $0.originalName == "listed-late" })
            // With nothing in between, a refresh is written.
            _ = try await registry.setGatewayEnabled(id: gateway.id, enabled: true)
            #expect(try await registry.refreshGateway(id: gateway.id, fencingEpoch: 1))
            #expect(try await store.loadCatalog().tools.contains { $0.originalName == "listed-late" })
        }
    }

    @Test func deletingAGatewayRemovesItsItemsAndMemberships() async throws {
        try await withRegistry(ScriptedUpstream(tools: ["echo"])) { registry, store in
            let gateway = try await registry.registerGateway(input("gw"))
            let tool = try #require(registry.catalog.snapshot.contents.tools.first)
            let server = try await registry.createServer(
                ServerInput(
                    name: "s",
                    description: nil,
                    icon: nil,
                    toolIDs: [tool.id],
                    resourceIDs: nil,
                    promptIDs: nil
                )
            )
            try await registry.deleteGateway(id: gateway.id)
            let contents = try await store.loadCatalog()
            #expect(contents.tools.isEmpty && contents.gateways.isEmpty)
            #expect(contents.servers.first { $0.id == server.id }?.toolIDs == [])
            await #expect(throws: RegistryError.self) { try await registry.deleteGateway(id: gateway.id) }
        }
    }

    @Test func serversRefuseUnknownMembers() async throws {
        try await withRegistry(ScriptedUpstream(tools: [])) { registry, _ in
            do {
                _ = try await registry.createServer(
                    ServerInput(
                        name: "s",
                        description: nil,
                        icon: nil,
                        toolIDs: ["nope"],
                        resourceIDs: nil,
                        promptIDs: nil
                    )
                )
                Issue.record("unknown tool id accepted")
            } catch let error as RegistryError {
                #expect(error.field == "associated_tools")
            }
        }
    }
}
