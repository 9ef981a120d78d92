import Testing

@testable import GatewayCore

@Suite struct CatalogSnapshotTests {
    static let now = Timestamp(millisecondsSince1970: 1_700_000_000_000)

    static func gateway(_ id: String, enabled: Bool = true) -> GatewayRecord {
        GatewayRecord(
            id: id,
            name: id,
            slug: id,
            url: "http://127.0.0.1:1/mcp",
            description: nil,
            transport: .streamableHTTP,
            enabled: enabled,
            reachable: true,
            capabilities: [:],
            protocolVersion: "2025-11-25",
            auth: .none,
            createdAt: now,
            updatedAt: now,
            lastSeen: nil
        )
    }

    static func tool(_ id: String, gateway: String, name: String) -> ToolRecord {
        ToolRecord(
            id: id,
            gatewayID: gateway,
            originalName: name,
            name: "\(gateway)-\(name)",
            definition: JSONObject([("name", .string(name)), ("inputSchema", ["type": "object"])]),
            enabled: true,
            createdAt: now
        )
    }

    static let contents = CatalogContents(
        gateways: [gateway("a"), gateway("b", enabled: false)],
        tools: [
            tool("t1", gateway: "a", name: "echo"), tool("t2", gateway: "a", name: "add"),
            tool("t3", gateway: "b", name: "x"),
        ],
        resourceTemplates: [
            ResourceTemplateRecord(
                id: "rt",
                gatewayID: "a",
                uriTemplate: "data://items/{id}",
                definition: ["uriTemplate": "data://items/{id}"],
                createdAt: now
            )
        ],
        servers: [
            VirtualServerRecord(
                id: "s",
                name: "s",
                description: nil,
                icon: nil,
                toolIDs: ["t2"],
                resourceIDs: [],
                promptIDs: [],
                enabled: true,
                createdAt: now,
                updatedAt: now
            )
        ]
    )

    @Test func fullViewHidesDisabledGatewaysAndQualifiesNames() throws {
        let view = CatalogSnapshot(contents: Self.contents).fullView
        #expect(view.toolRoutes.keys.sorted() == ["a-add", "a-echo"])
        #expect(view.toolRoutes["a-echo"]?.originalName == "echo")
        let names = try view.tools.map { try JSONScanner.parse($0)["name"]?.stringValue }
        #expect(names == ["a-add", "a-echo"])
    }

    @Test func serverViewsShowOnlyAssociatedItems() {
        let snapshot = CatalogSnapshot(contents: Self.contents)
        #expect(snapshot.view(serverID: "s")?.toolRoutes.keys.sorted() == ["a-add"])
        #expect(snapshot.view(serverID: "missing") == nil)
    }

    @Test func resourcesAreRoutedByTemplatePrefix() {
        let view = CatalogSnapshot(contents: Self.contents).fullView
        #expect(view.resourceTarget(for: "data://items/42")?.gatewayID == "a")
        #expect(view.resourceTarget(for: "other://x") == nil)
    }

    @Test func aServerListingOneResourceDoesNotOpenItsUpstreamsTemplates() {
        var contents = Self.contents
        contents.resources = [
            ResourceRecord(
                id: "r1",
                gatewayID: "a",
                uri: "data://greeting",
                definition: ["uri": "data://greeting"],
                enabled: true,
                createdAt: Self.now
            )
        ]
        contents.servers[0].resourceIDs = ["r1"]
        let view = CatalogSnapshot(contents: contents).view(serverID: "s")
        #expect(view?.resourceTarget(for: "data://greeting")?.gatewayID == "a")
        #expect(view?.resourceTarget(for: "data://items/42") == nil)
        #expect(view?.resourceTemplates.isEmpty == true)
    }

    @Test func timestampsRenderAsISO8601() {
        #expect(Timestamp(millisecondsSince1970: 0).iso8601 == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp(millisecondsSince1970: 1_764_088_333_123).iso8601 == "2025-11-25T16:32:13.123Z")
    }
}

@Suite struct CatalogHolderOrderTests {
    @Test func aLoadBegunEarlierNeverHidesOneBegunLater() {
        let holder = CatalogHolder()
        let early = holder.ticket()
        let late = holder.ticket()
        let newer = CatalogSnapshot(contents: CatalogContents(gateways: [CatalogSnapshotTests.gateway("new")]))
        #expect(holder.replace(with: newer, ticket: late))
        #expect(!holder.replace(with: .empty, ticket: early))
        #expect(holder.snapshot.gatewaysByID["new"] != nil)
        #expect(holder.replace(with: .empty, ticket: holder.ticket()))
        #expect(holder.snapshot.gatewaysByID.isEmpty)
    }
}
