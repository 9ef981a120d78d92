import GatewayCore
import GatewayTesting
import Logging
import Synchronization
import Testing

@testable import GatewaySession

/// Two session engines in one process, joined by an in-memory cluster bus and one shared replay
/// log: what two gateway nodes behind a round-robin balancer do, in milliseconds. (The same
/// paths over Redis, with real processes and nginx, are in Tests/Integration/test_cluster.py.)
@Suite struct TwoNodeTests {
    static let now = Fixtures.now
    static let logger = Logger(label: "two-node-tests")

    /// A node: its engine and the task serving its bus (cancelled by ``stop()``).
    struct Node {
        let engine: SessionEngine
        let serving: Task<Void, Never>

        var runtime: SessionRuntime { engine.runtime }
        func stop() { serving.cancel() }
    }

    /// A catalog with one upstream, `a`, offering the tool `ask` (as `a-ask`).
    static func catalog() -> CatalogHolder {
        let tool = ToolRecord(
            id: "t",
            gatewayID: "a",
            originalName: "ask",
            name: "a-ask",
            definition: JSONObject([("name", "ask"), ("inputSchema", ["type": "object"])]),
            enabled: true,
            createdAt: now
        )
        return CatalogHolder(CatalogSnapshot(contents: CatalogContents(gateways: [Fixtures.gateway], tools: [tool])))
    }

    /// An upstream whose tool asks the client for sampling and answers with what the client said.
    static let samplingUpstream = ScriptedUpstream(tools: ["ask"]) { method, _, relay in
        guard method == "tools/call", let relay else { return .result(Array("{}".utf8)) }
        let answer = await relay.ask(method: "sampling/createMessage", params: Array(#"{"messages":[]}"#.utf8))
        // A real upstream client gives up its request when the call is cancelled.
        try Task.checkCancellation()
        switch answer {
        case .result(let answer):
            return .result(Array(#"{"content":[{"type":"text","text":"#.utf8) + answer + Array("}]}".utf8))
        case .error(let error): return .error(error)
        }
    }

    static func node(_ id: String, in cluster: InMemoryCluster, log: InMemorySessionEventLog) -> Node {
        let bus = cluster.join(nodeID: id)
        let runtime = SessionRuntime(nodeID: id, eventLog: log, replayRetention: .seconds(60), bus: bus)
        let dispatcher = MCPDispatcher(
            catalog: catalog(),
            upstream: samplingUpstream,
            pagination: Pagination(pageSize: 50),
            upstreamTimeout: .seconds(10),
            identity: ServerIdentity(name: "test", version: "0")
        )
        let engine = SessionEngine(
            dispatcher: dispatcher,
            runtime: runtime,
            sessionTTL: .seconds(3600),
            requestStates: ReadableRequestStates()
        )
        return Node(engine: engine, serving: Task { await engine.serveBus(logger: logger) })
    }

    static func twoNodes() -> (Node, Node, InMemoryCluster) {
        let cluster = InMemoryCluster()
        let log = Fixtures.eventLog()
        return (node("nodeAAAA-1", in: cluster, log: log), node("nodeBBBB-2", in: cluster, log: log), cluster)
    }

    static func facts(_ key: String) -> SessionFacts {
        SessionFacts(
            key: key,
            protocolVersion: "2025-11-25",
            subject: "alice",
            serverID: nil,
            createdAt: now.millisecondsSince1970,
            capabilities: ClientCapabilities(declared: ["sampling": [:]])
        )
    }

    static func context(_ facts: SessionFacts) -> MCPRequestContext {
        MCPRequestContext(protocolVersion: facts.protocolVersion, serverID: nil, principal: facts.subject)
    }

    /// Starts a call of the sampling tool on `node`; returns it and the stream it asks on.
    static func startAskingCall(
        id: Int,
        on node: Node,
        facts: SessionFacts
    ) async throws -> (Task<MCPDispatcher.Reply, Never>, OutboundQueue)? {
        let asked = OutboundQueue(capacity: 16)
        let call = try message(#"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"a-ask"}}"#)
        let outcome = await node.engine.handle(call, from: .sealed(facts), context: context(facts), logger: logger) {
            _ in SessionEngine.CallSink(send: { asked.push(StreamEvent(data: $0)) })
        }
        guard case .running(let running) = outcome else { return nil }
        return (running, asked)
    }

    static func message(_ text: String) throws -> JSONRPCMessage { try JSONRPCMessage(bytes: Array(text.utf8)) }

    static func text(_ event: StreamEvent?) -> String { event.map { String(decoding: $0.data, as: UTF8.self) } ?? "" }

    @Test func anEventForAStreamHeldByTheOtherNodeIsDeliveredThere() async throws {
        let (a, b, cluster) = Self.twoNodes()
        defer {
            a.stop()
            b.stop()
        }
        let queue = OutboundQueue(capacity: 16)
        #expect(await b.engine.attach(queue, session: "s1", stream: StreamName.get, serverID: nil))
        #expect(cluster.holder(session: "s1", stream: StreamName.get) == "nodeBBBB")
        a.runtime.streams.deliver(
            Array(#"{"jsonrpc":"2.0","method":"notifications/x"}"#.utf8),
            session: "s1",
            stream: StreamName.get
        )
        let event = await queue.next()
        #expect(Self.text(event) == #"{"jsonrpc":"2.0","method":"notifications/x"}"#)
        // Recorded in the shared log too, for a client that resumes anywhere.
        let replay = await a.engine.replay(session: "s1", after: "g-0")
        #expect(replay?.events.map { String(decoding: $0.data, as: UTF8.self) } == [Self.text(event)])
    }

    @Test func aStreamTakenOverByAnotherNodeIsLetGoOnTheFirst() async throws {
        let (a, b, cluster) = Self.twoNodes()
        defer {
            a.stop()
            b.stop()
        }
        let first = OutboundQueue(capacity: 16)
        let second = OutboundQueue(capacity: 16)
        #expect(await a.engine.attach(first, session: "s2", stream: StreamName.get, serverID: nil))
        #expect(await b.engine.attach(second, session: "s2", stream: StreamName.get, serverID: nil))
        #expect(cluster.holder(session: "s2", stream: StreamName.get) == "nodeBBBB")
        // The first node's connection ends (its queue finishes: next() returns nil).
        #expect(await first.next() == nil)
        #expect(a.runtime.streams.counts.streams == 0)
        a.runtime.streams.deliver(Array("{}".utf8), session: "s2", stream: StreamName.get)
        #expect(Self.text(await second.next()) == "{}")
    }

    @Test func aClientsAnswerPostedToTheOtherNodeReachesTheWaitingCall() async throws {
        let (a, b, _) = Self.twoNodes()
        defer {
            a.stop()
            b.stop()
        }
        let facts = Self.facts("s3")
        let context = Self.context(facts)
        let (running, asked) = try #require(await Self.startAskingCall(id: 7, on: a, facts: facts))
        let request = try Self.message(Self.text(await asked.next()))
        #expect(request.method == "sampling/createMessage")
        let id = try #require(request.id)
        #expect(ClientRequestID.node(of: id) == "nodeAAAA")
        let answer = try Self.message(#"{"jsonrpc":"2.0","id":\#(id.description),"result":"sampled"}"#)
        let answered = await b.engine.handle(answer, from: .sealed(facts), context: context, logger: Self.logger) { _ in
            SessionEngine.CallSink(send: nil)
        }
        guard case .consumed = answered else {
            Issue.record("the answer was not taken: \(answered)")
            return
        }
        let reply = String(decoding: await running.value.bytes, as: UTF8.self)
        #expect(reply.contains(#""text":"sampled""#), "\(reply)")
    }

    @Test func aCancellationSentToTheOtherNodeStopsTheCall() async throws {
        let (a, b, _) = Self.twoNodes()
        defer {
            a.stop()
            b.stop()
        }
        let facts = Self.facts("s4")
        let context = Self.context(facts)
        let (running, asked) = try #require(await Self.startAskingCall(id: 8, on: a, facts: facts))
        _ = await asked.next()  // the call is waiting for the client
        let cancel = try Self.message(#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":8}}"#)
        _ = await b.engine.handle(cancel, from: .sealed(facts), context: context, logger: Self.logger) { _ in
            SessionEngine.CallSink(send: nil)
        }
        let reply = await running.value
        #expect(reply.errorCode == .requestCancelled)
    }

    @Test func aMessagePostedForAConnectionSessionHeldElsewhereIsHandledThere() async throws {
        let (a, b, cluster) = Self.twoNodes()
        defer {
            a.stop()
            b.stop()
        }
        let session = ConnectionSession(
            key: "c1",
            subject: "alice",
            serverID: nil,
            protocolVersion: "2024-11-05",
            reachable: true
        )
        let stream = OutboundQueue(capacity: 16)
        #expect(await a.engine.open(session))
        // As openLegacyStream does: the connection's one stream is this node's alone.
        #expect(a.runtime.streams.attach(stream, session: "c1", stream: StreamName.get, serverID: nil))
        #expect(cluster.holder(session: "c1", stream: StreamName.connection) == "nodeAAAA")
        let ping = #"{"jsonrpc":"2.0","id":1,"method":"ping"}"#
        let posted = PostedMessage(
            session: "c1",
            subject: "alice",
            serverID: nil,
            hops: nil,
            onBehalfOf: nil,
            message: ping
        )
        #expect(await b.runtime.bus?.post(posted) == .accepted)
        #expect(Self.text(await stream.next()) == #"{"jsonrpc":"2.0","id":1,"result":{}}"#)
        // Not the poster's session, or on another endpoint: not found.
        var foreign = posted
        foreign.subject = "mallory"
        #expect(await b.runtime.bus?.post(foreign) == .notFound)
        var elsewhere = posted
        elsewhere.serverID = "other"
        #expect(await b.runtime.bus?.post(elsewhere) == .notFound)
        // The connection closes: the session is held nowhere.
        a.engine.end(session: "c1")
        #expect(cluster.holder(session: "c1", stream: StreamName.connection) == nil)
        #expect(await b.runtime.bus?.post(posted) == .notFound)
    }
}
