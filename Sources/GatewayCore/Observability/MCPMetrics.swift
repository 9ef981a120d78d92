import Metrics

/// How one forwarded `tools/call` ended, as `mcpgateway_mcp_calls_total` labels it.
public enum MCPCallOutcome: String, Sendable, Hashable, CaseIterable {
    /// The upstream answered with a result that is not `isError: true`.
    case success
    /// The upstream answered with a result marked `isError: true` (the tool reported a failure).
    case toolError = "tool_error"
    /// A JSON-RPC error: from the upstream, or the gateway refused or could not reach it.
    case error
    /// The call ran past `TOOL_TIMEOUT`.
    case timeout
    /// The client cancelled the call, or went away.
    case cancelled
}

/// The MCP-level metrics: requests by JSON-RPC method, and forwarded tool calls by tool, upstream
/// and outcome with their latency. Tool and upstream labels only ever come from the catalog
/// (an unknown tool name is counted as `unknown`), so clients cannot grow the label sets.
public struct MCPMetrics: Sendable {
    struct CallKey: Hashable, Sendable {
        var tool: String
        var upstream: String
        var outcome: MCPCallOutcome
    }

    /// The count and the latency of one tool, upstream and outcome, made together.
    struct CallSeries: Sendable {
        let count: Counter
        let duration: Timer
    }

    private let requests: MetricCache<String, Counter>
    private let calls: MetricCache<CallKey, CallSeries>

    public init() {
        requests = MetricCache { method in
            Counter(label: "mcpgateway_mcp_requests_total", dimensions: [("method", method)])
        }
        calls = MetricCache { key in
            CallSeries(
                count: Counter(label: "mcpgateway_mcp_calls_total", dimensions: Self.dimensions(key)),
                duration: Timer(
                    label: "mcpgateway_mcp_call_duration_seconds",
                    dimensions: Self.dimensions(key),
                    preferredDisplayUnit: .seconds
                )
            )
        }
    }

    static func dimensions(_ key: CallKey) -> [(String, String)] {
        [("tool", key.tool), ("upstream", key.upstream), ("outcome", key.outcome.rawValue)]
    }

    /// Counts one request; methods outside MCP's own are counted as `other`.
    public func countRequest(method: String) {
        requests[Self.knownMethods.contains(method) ? method : "other"].increment()
    }

    /// Records one finished tool call.
    public func recordCall(tool: String, upstream: String, outcome: MCPCallOutcome, duration: Duration) {
        let series = calls[CallKey(tool: tool, upstream: upstream, outcome: outcome)]
        series.count.increment()
        series.duration.record(duration: duration)
    }

    /// Drops the series of tools that left the catalog (upstreams name their tools, so a catalog
    /// that changes would otherwise grow the exposition for ever); `tools` are the qualified names
    /// still served.
    public func prune(keeping tools: Set<String>) {
        for series in calls.removeAll(where: { $0.tool != Self.unknown && !tools.contains($0.tool) }) {
            series.count.destroy()
            series.duration.destroy()
        }
    }

    /// The label of a call whose tool the catalog does not know.
    public static let unknown = "unknown"

    /// JSON-RPC methods clients send to a server, by the current and earlier specifications.
    static let knownMethods: Set<String> = [
        "initialize", "ping", "server/discover", "logging/setLevel", "completion/complete",
        "tools/list", "tools/call", "prompts/list", "prompts/get",
        "resources/list", "resources/read", "resources/templates/list",
        "resources/subscribe", "resources/unsubscribe", "subscriptions/listen",
    ]
}
