/// The MCP protocol versions the gateway speaks to clients, and what each allows.
public enum ProtocolVersions {
    /// The stateless era: no initialize, no session, per-request `_meta`.
    public static let stateless = "2026-07-28"
    /// The newest stateful version.
    public static let latestStateful = "2025-11-25"
    /// Stateful versions accepted at initialize, newest first.
    public static let stateful = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]
    /// The version of the HTTP+SSE transport (`/sse` + `/message`), until initialize says otherwise.
    public static let legacySSE = "2024-11-05"
    /// Every version accepted, newest first.
    public static let all = [stateless] + stateful

    /// The version to answer an initialize that asked for `requested`: the same when supported,
    /// otherwise the newest stateful one (the client then decides whether to continue).
    public static func negotiate(_ requested: String?) -> String {
        if let requested, stateful.contains(requested) { return requested }
        return latestStateful
    }

    /// Whether JSON-RPC batches are allowed in this version (only 2025-03-26 had them).
    public static func allowsBatch(_ version: String) -> Bool { version == "2025-03-26" }

    /// Whether `version` is the stateless era.
    public static func isStateless(_ version: String) -> Bool { version == stateless }
}
