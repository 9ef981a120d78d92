import Testing

@testable import GatewayCore

@Suite struct FederationTests {
    let federation = Federation(gatewayID: "g-a", name: "A", maximumHops: 2)

    func tool(path: [String]?) -> JSONObject {
        var definition: JSONObject = ["name": "echo"]
        if let path {
            var meta: JSONObject = ["other": 1]
            meta[Federation.originKey] = .array(path.map { .string($0) })
            definition["_meta"] = .object(meta)
        }
        return definition
    }

    @Test func listedItemsCarryTheirPathWithThisGatewayAppended() {
        let stamped = federation.stamped(tool(path: ["g-c", "g-b"]))
        #expect(Federation.originPath(of: stamped) == ["g-c", "g-b", "g-a"])
        #expect(stamped["_meta"]?["other"] == 1, "other _meta members are kept")
        #expect(Federation.originPath(of: federation.stamped(tool(path: nil))) == ["g-a"])
        #expect(Federation.none.stamped(tool(path: nil)) == tool(path: nil), "no identity, no stamp")
    }

    @Test func itemsThatCameThroughThisGatewayOrFromTooFarAreNotImported() {
        #expect(federation.importProblem(tool(path: nil)) == nil)
        #expect(federation.importProblem(tool(path: ["g-b", "g-c"])) == nil)
        #expect(federation.importProblem(tool(path: ["g-a", "g-b"]))?.contains("loop") == true)
        #expect(federation.importProblem(tool(path: ["g-b", "g-c", "g-d"]))?.contains("FEDERATION_MAX_HOPS") == true)
        var garbled: JSONObject = ["name": "x"]
        garbled["_meta"] = .object(JSONObject([(Federation.originKey, "g-b")]))
        #expect(federation.importProblem(garbled) != nil, "a path that is not an array of ids is refused")
        #expect(Federation.none.importProblem(tool(path: ["g-a"])) == nil)
    }

    @Test func theHopCountIsCheckedAndIncremented() throws {
        #expect(try federation.onwardHops(received: nil) == 1)
        #expect(try federation.onwardHops(received: " 2 ") == 3)
        #expect(throws: JSONRPCError.self) { try federation.onwardHops(received: "3") }
        #expect(throws: JSONRPCError.self) { try federation.onwardHops(received: "-1") }
        #expect(throws: JSONRPCError.self) { try federation.onwardHops(received: "two") }
    }

    @Test func aPeerIsRecognisedFromItsCapabilities() {
        let experimental = JSONObject([(Federation.capabilityKey, ["gatewayId": "g-b", "name": "B"] as JSONValue)])
        let capabilities: JSONValue = ["tools": [:], "experimental": .object(experimental)]
        #expect(Federation.peerGatewayID(in: capabilities) == "g-b")
        #expect(Federation.peerGatewayID(in: ["tools": [:]]) == nil)
        let identity = ServerIdentity(name: "n", version: "1", federation: federation)
        #expect(Federation.peerGatewayID(in: identity.capabilities) == "g-a")
        #expect(identity.serverInfo["title"] == "A")
    }
}
