import GatewayCore
import GatewayTesting
import Synchronization
import Testing

@testable import GatewaySession

/// Upstream subscriptions are released in the background, and never from under a newer
/// subscriber of the same resource.
@Suite struct SubscriptionReleaseTests {
    /// What went upstream, in order.
    final class Sent: Sendable {
        let methods = Mutex<[String]>([])
        var all: [String] { methods.withLock { $0 } }
    }

    static let now = Fixtures.now

    /// An engine on one upstream, `a`, with the resource `data://r`; `sent` records what went
    /// upstream.
    static func engine(recording sent: Sent) -> SessionEngine {
        let resource = ResourceRecord(
            id: "r",
            gatewayID: "a",
            uri: "data://r",
            definition: JSONObject([("uri", "data://r")]),
            enabled: true,
            createdAt: now
        )
        let catalog = CatalogHolder(
            CatalogSnapshot(contents: CatalogContents(gateways: [Fixtures.gateway], resources: [resource]))
        )
        let upstream = ScriptedUpstream(tools: []) { method, _, _ in
            sent.methods.withLock { $0.append(method) }
            return .result(Array("{}".utf8))
        }
        let dispatcher = MCPDispatcher(
            catalog: catalog,
            upstream: upstream,
            pagination: Pagination(pageSize: 50),
            upstreamTimeout: .seconds(10),
            identity: ServerIdentity(name: "test", version: "0")
        )
        let runtime = SessionRuntime(
            nodeID: "node0000",
            eventLog: Fixtures.eventLog(),
            replayRetention: .seconds(60)
        )
        return SessionEngine(dispatcher: dispatcher, runtime: runtime, sessionTTL: .seconds(3600))
    }

    @Test func aReleaseQueuedBeforeANewSubscriberIsNotSent() async {
        let sent = Sent()
        let engine = Self.engine(recording: sent)
        #expect(await engine.subscribe(uri: "data://r", session: "s1", serverID: nil) == nil)
        engine.unsubscribe(uri: "data://r", session: "s1", serverID: nil)  // queues a release
        #expect(await engine.subscribe(uri: "data://r", session: "s2", serverID: nil) == nil)
        let releasing = Task { await engine.releaseUpstreams() }
        defer { releasing.cancel() }
        // The queued release is taken (and must be skipped) before the last watcher goes.
        while engine.runtime.upstreamReleases.count > 0 { await Task.yield() }
        for _ in 0..<1000 { await Task.yield() }
        #expect(sent.all == ["resources/subscribe", "resources/subscribe"])
        engine.unsubscribe(uri: "data://r", session: "s2", serverID: nil)  // the last watcher goes
        for _ in 0..<10_000 where sent.all.count < 3 { await Task.yield() }
        #expect(sent.all == ["resources/subscribe", "resources/subscribe", "resources/unsubscribe"])
    }
}
