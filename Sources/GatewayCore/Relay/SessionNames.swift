/// The ids of requests the gateway puts to clients on behalf of upstreams: `"gw-<node>-<n>"`,
/// where `<node>` is the first 8 characters of the asking node's id, so that an answer arriving
/// at another node of the cluster finds its way back.
public enum ClientRequestID {
    /// The prefix of the ids a node with id `nodeID` hands out.
    public static func prefix(nodeID: String) -> String { "gw-" + nodeID.prefix(8) }

    /// The short node id (8 characters) named by `id`, or `nil` when it is no id of ours.
    public static func node(of id: JSONRPCID) -> String? {
        let text = String(decoding: id.raw, as: UTF8.self)
        guard text.hasPrefix("\"gw-"), text.count > 13 else { return nil }
        return String(text.dropFirst(4).prefix(8))
    }
}

/// The names of a stateful session's streams: one GET stream for messages not tied to a request,
/// and one stream per call answered as SSE. Event ids are `<stream>-<sequence>`.
public enum StreamName {
    /// The session's GET stream (also the one stream of a connection-bound session).
    public static let get = "g"

    /// The connection of a connection-bound session (legacy HTTP+SSE), as recorded for the
    /// cluster: messages posted for it on other nodes are handed to the node holding it.
    public static let connection = "l"

    /// The stream of the call numbered `sequence`.
    public static func call(_ sequence: Int) -> String { "c\(sequence)" }
}
