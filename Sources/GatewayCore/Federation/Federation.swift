import Foundation

/// This deployment's place in a federation of gateways: its stable gateway id (created once in
/// the store, shared by every node of a cluster), its display name, and how far calls may travel
/// from gateway to gateway.
///
/// Three things keep federated gateways from looping:
/// - the id is advertised to clients (an `experimental` capability), so a gateway that registers
///   another of our kind recognises it as a peer and refuses to register itself;
/// - every item a gateway lists carries its origin path (the ids of the gateways it came
///   through) in `_meta`; a gateway never imports an item whose path holds its own id, nor one
///   whose path is already as long as a call to it may travel;
/// - every forwarded call carries a hop count (``hopsHeader``); a call that has crossed more than
///   ``maximumHops`` gateways is refused. This also bounds loops through gateways that drop
///   `_meta` (which origin paths cannot see).
public struct Federation: Sendable, Hashable {
    /// The deployment's gateway id; empty for a registry that federates nothing (unit tests).
    public var gatewayID: String
    /// The display name (`GATEWAY_NAME`), sent as `serverInfo.title`.
    public var name: String
    /// How many gateway-to-gateway hops a call may cross (`FEDERATION_MAX_HOPS`).
    public var maximumHops: Int

    public init(gatewayID: String, name: String, maximumHops: Int = 3) {
        self.gatewayID = gatewayID
        self.name = name
        self.maximumHops = maximumHops
    }

    /// No identity: nothing is stamped or filtered (tests of the registry alone).
    public static let none = Federation(gatewayID: "", name: "")

    /// The `experimental` capability that says "a federating gateway, id X".
    public static let capabilityKey = "io.github.mcp-gateway-swift/federation"
    /// The `_meta` key of an item's origin path (an array of gateway ids, oldest first).
    public static let originKey = "io.github.mcp-gateway-swift/origin"
    /// The request header of forwarded calls: how many gateways the call has crossed.
    public static let hopsHeader = "MCP-Gateway-Hops"
    /// Longest origin path read from an upstream (longer ones are refused, not truncated).
    public static let maximumPathLength = 32

    /// The value of ``capabilityKey``: `{"gatewayId": ..., "name": ...}`.
    public var capability: JSONValue {
        ["gatewayId": .string(gatewayID), "name": .string(name)]
    }

    /// The federating gateway id an upstream announced in its capabilities, or `nil` when it is
    /// not a gateway of our kind.
    public static func peerGatewayID(in capabilities: JSONValue) -> String? {
        guard let id = capabilities["experimental"]?[capabilityKey]?["gatewayId"]?.stringValue,
            !id.isEmpty, id.utf8.count <= 128
        else { return nil }
        return id
    }
}

// MARK: - Origin paths

extension Federation {
    /// An item's origin path as listed by its upstream: `[]` when it carries none, `nil` when the
    /// value is not an array of short strings (or is too long), which the importer refuses.
    public static func originPath(of definition: JSONObject) -> [String]? {
        guard let value = definition["_meta"]?[originKey] else { return [] }
        guard let array = value.arrayValue, array.count <= maximumPathLength else { return nil }
        var path: [String] = []
        for element in array {
            guard let id = element.stringValue, !id.isEmpty, id.utf8.count <= 128 else { return nil }
            path.append(id)
        }
        return path
    }

    /// Why an item listed by an upstream must not be imported, or `nil` to import it: it came
    /// through this gateway already (a loop), or a call to it would cross more hops than allowed.
    public func importProblem(_ definition: JSONObject) -> String? {
        guard !gatewayID.isEmpty else { return nil }
        guard let path = Self.originPath(of: definition) else {
            return "_meta.\(Self.originKey) must be an array of at most \(Self.maximumPathLength) gateway ids"
        }
        if path.contains(gatewayID) { return "it came through this gateway (a federation loop)" }
        if path.count > maximumHops {
            return "it is \(path.count) gateways away, more than FEDERATION_MAX_HOPS (\(maximumHops)) allows"
        }
        return nil
    }

    /// The definition as this gateway lists it: its origin path with this gateway's id appended.
    public func stamped(_ definition: JSONObject) -> JSONObject {
        guard !gatewayID.isEmpty else { return definition }
        let path = (Self.originPath(of: definition) ?? []) + [gatewayID]
        var meta = definition["_meta"]?.objectValue ?? JSONObject()
        meta[Self.originKey] = .array(path.map { .string($0) })
        var stamped = definition
        stamped["_meta"] = .object(meta)
        return stamped
    }
}

// MARK: - Hops

extension Federation {
    /// The hop count a forwarded call carries onward, from the value the caller sent
    /// (``hopsHeader``; absent means a client, 0). Throws a JSON-RPC error when the value is not a
    /// count or the call has already crossed more gateways than ``maximumHops``.
    public func onwardHops(received header: String?) throws(JSONRPCError) -> Int {
        var received = 0
        if let header {
            guard let count = Int(header.trimmingCharacters(in: .whitespaces)), count >= 0, count <= 1000 else {
                throw JSONRPCError.invalidRequest("\(Self.hopsHeader) must be a count of gateways (0 to 1000)")
            }
            received = count
        }
        guard received <= maximumHops else {
            throw JSONRPCError(
                code: .invalidRequest,
                message:
                    "Refused: the call has crossed \(received) gateways, more than FEDERATION_MAX_HOPS (\(maximumHops)) allows (a federation loop?)",
                data: ["hops": .int(Int64(received)), "maximumHops": .int(Int64(maximumHops))]
            )
        }
        return received + 1
    }
}
