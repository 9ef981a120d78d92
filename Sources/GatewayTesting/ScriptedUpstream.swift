import GatewayCore
import Synchronization

/// An upstream double: discovery answers a fixed catalog (or fails), forwarded requests are
/// answered by a script (by default `{}`), which may talk back through the call's relay as a real
/// upstream does. Real upstream behaviour is covered by the integration tests.
public final class ScriptedUpstream: UpstreamClient {
    /// Answers one forwarded request.
    public typealias Script =
        @Sendable (_ method: String, _ params: [UInt8]?, _ relay: (any UpstreamCallRelay)?) async throws
        -> UpstreamReply

    public let tools: Mutex<[String]>
    public let failing: Bool
    /// While set, discovery announces that it started and waits until the gate opens.
    public let gate = Mutex<DiscoveryGate?>(nil)
    private let script: Script

    public init(
        tools: [String],
        failing: Bool = false,
        script: @escaping Script = { _, _, _ in .result(Array("{}".utf8)) }
    ) {
        self.tools = Mutex(tools)
        self.failing = failing
        self.script = script
    }

    public func discover(_ target: UpstreamTarget, timeout: Duration) async throws -> DiscoveredCatalog {
        if failing { throw UpstreamError(.unreachable, "cannot connect") }
        if let gate = gate.withLock({ $0 }) { await gate.pass() }
        let names = tools.withLock { $0 }
        return DiscoveredCatalog(
            // A float default: the store writes 0.0 as 0 and reads it back as an integer.
            tools: names.map {
                JSONObject([
                    ("name", .string($0)),
                    ("inputSchema", ["type": "object", "properties": ["delay": ["default": .double(0)]]]),
                ])
            },
            resources: [JSONObject([("uri", "data://r"), ("name", "r")])],
            resourceTemplates: [],
            prompts: [JSONObject([("name", "p")])],
            capabilities: ["tools": [:]],
            protocolVersion: "2025-11-25",
            serverInfo: [:]
        )
    }

    public func forward(
        _ target: UpstreamTarget,
        method: String,
        params: [UInt8]?,
        timeout: Duration,
        relay: (any UpstreamCallRelay)?
    ) async throws -> UpstreamReply {
        try await script(method, params, relay)
    }

    public func release(gatewayID: String) async {}

    public var events: AsyncStream<UpstreamEvent> { AsyncStream { $0.finish() } }
}

/// Holds one discovery in the middle: `started` yields when it arrives, `open()` lets it go on.
public final class DiscoveryGate: Sendable {
    public let started: AsyncStream<Void>
    private let startedContinuation: AsyncStream<Void>.Continuation
    private let opened: AsyncStream<Void>
    private let openContinuation: AsyncStream<Void>.Continuation

    public init() {
        (started, startedContinuation) = AsyncStream.makeStream()
        (opened, openContinuation) = AsyncStream.makeStream()
    }

    func pass() async {
        startedContinuation.yield()
        for await _ in opened { return }
    }

    /// Lets the waiting discovery go on.
    public func open() { openContinuation.yield() }
}
