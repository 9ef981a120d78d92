import GatewayAuth
import GatewayCore
import GatewayHTTPFraming
import GatewaySession
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// The server-to-client GET stream of stateful sessions, resumption with `Last-Event-ID`, and
/// list-change announcements.
extension MCPRoutes {
    /// GET: opens the session's stream for messages not tied to a request (list changes), or,
    /// with `Last-Event-ID`, resumes the stream that id belongs to (the GET stream or a call's
    /// stream) with what the client missed. A new GET stream replaces the session's previous one.
    func get(_ request: Request, context: GatewayRequestContext, serverID: String?) async -> Response {
        if request.headers[Self.versionHeader] == ProtocolVersions.stateless {
            // 2026-07-28 has no standalone stream; subscriptions/listen is its replacement.
            var headers = HTTPFields()
            headers[.allow] = "POST"
            return Response(status: .methodNotAllowed, headers: headers)
        }
        let principal = context.principal?.subject ?? "anonymous"
        let facts: SessionFacts
        switch await session(request, serverID: serverID, principal: principal) {
        case .success(let opened): facts = opened
        case .failure(let failure): return failure.response
        }
        guard let accept = request.headers[.accept],
            ASCIICaseInsensitive.contains(accept, "text/event-stream") || ASCIICaseInsensitive.contains(accept, "*/*")
        else {
            return MCPReply.error(
                JSONRPCError.invalidRequest("the GET stream is text/event-stream; send Accept: text/event-stream"),
                status: .notAcceptable
            )
        }
        let queue = OutboundQueue(capacity: runtime.streamCapacity)
        let opened: OpenedStream
        switch await open(
            queue,
            session: facts.key,
            serverID: serverID,
            lastEventID: request.headers[Self.lastEventIDHeader]
        ) {
        case .success(let stream): opened = stream
        case .failure(let refusal): return MCPReply.error(refusal, status: .badRequest)
        }
        let (replayed, opening, ended, stream) = (opened.replayed, opened.opening, opened.ended, opened.stream)
        // Events that arrive live after being replayed are skipped by id (numbers from different
        // nodes' clocks cannot be compared).
        let replayedIDs = Set(replayed.compactMap(\.id))
        let keepAlive = runtime.keepAlive
        let session = facts.key
        let resumed = stream
        let engine = engine
        // Detached however the response ends, even if its body never runs.
        let cleanup = ResponseCleanup { _ in engine.detach(queue, session: session, stream: resumed) }
        return Response(
            status: .ok,
            headers: MCPReply.eventStreamHeaders(),
            body: ResponseBody { [replayed, opening, ended, replayedIDs] writer in
                let pinged = keepAlive.register(queue)
                defer {
                    keepAlive.unregister(pinged)
                    cleanup.run()
                }
                do {
                    if let opening { try await writer.write(SSEEncoding.buffer(opening)) }
                    for event in replayed { try await writer.write(SSEEncoding.buffer(event)) }
                    if !ended {
                        try await queue.drain { event in
                            if let id = event.id, replayedIDs.contains(id) { return }
                            try await writer.write(SSEEncoding.buffer(event))
                        }
                    }
                    if Task.isShuttingDownGracefully { try await writer.write(SSEEncoding.reconnectBuffer()) }
                    try await writer.finish(nil)
                } catch {
                    // The client went away; it resumes with Last-Event-ID.
                }
            }
        )
    }

    /// What a GET starts its stream with.
    struct OpenedStream {
        /// The stream held: the GET stream, or the call stream a `Last-Event-ID` names.
        var stream: String
        /// What the client missed, when resuming.
        var replayed: [StreamEvent] = []
        /// A priming event (an id to resume from even before the first message), when not resuming.
        var opening: StreamEvent?
        /// The resumed stream is over: send what was missed and end.
        var ended = false
    }

    /// Attaches `queue` to the session's GET stream, or, with `lastEventID`, to the stream that
    /// id belongs to with what the client missed since. Attached before the buffer is read, so
    /// nothing sent in between is lost (what arrives twice is skipped by id).
    func open(
        _ queue: OutboundQueue,
        session: String,
        serverID: String?,
        lastEventID: String?
    ) async -> Result<OpenedStream, JSONRPCError> {
        guard let lastEventID else {
            _ = await engine.attach(queue, session: session, stream: StreamName.get, serverID: serverID)
            let sequence = runtime.streams.nextSequence()
            let priming = LoggedEvent(stream: StreamName.get, sequence: sequence, data: [], isFinal: false)
            return .success(OpenedStream(stream: StreamName.get, opening: StreamEvent(id: priming.eventID, data: [])))
        }
        guard let (stream, _) = LoggedEvent.parse(eventID: lastEventID) else {
            return .failure(JSONRPCError.invalidRequest("Last-Event-ID \(lastEventID) was not sent by this gateway"))
        }
        let open = await engine.attach(queue, session: session, stream: stream, serverID: serverID)
        let replay = await engine.replay(session: session, after: lastEventID)
        return .success(
            OpenedStream(stream: stream, replayed: replay?.events ?? [], ended: !open || replay?.completed == true)
        )
    }

    /// Announces catalog changes (REST writes here or on other nodes, upstream list changes) on
    /// every open GET stream, as the list_changed notifications of the lists that changed for
    /// that session's endpoint.
    func announceCatalogChanges() {
        let streams = runtime.streams
        dispatcher.catalog.observe { old, new in
            streams.broadcast { serverID in
                Self.listChanges(from: old.view(serverID: serverID), to: new.view(serverID: serverID))
            }
        }
    }

    /// After this node committed a catalog change (cluster mode): records the list changes for
    /// GET streams whose node is gone, so their clients get them when they resume on any node.
    /// Runs before the write is answered, so a client that reconnects after seeing the answer
    /// finds them.
    public func recordForOrphanedStreams(old: CatalogSnapshot, new: CatalogSnapshot) async {
        guard let bus = runtime.bus else { return }
        let orphans = await bus.orphanedGetStreams()
        guard !orphans.isEmpty else { return }
        for (session, serverID) in orphans {
            let changes = Self.listChanges(from: old.view(serverID: serverID), to: new.view(serverID: serverID))
            for change in changes { runtime.streams.deliver(change, session: session, stream: StreamName.get) }
        }
        await runtime.streams.log.flush()
    }

    static func listChanges(from old: CatalogView?, to new: CatalogView?) -> [[UInt8]] {
        guard let old, let new else { return [] }
        var changes: [[UInt8]] = []
        func changed(_ method: String) {
            changes.append(JSONRPCMessage.notificationBytes(method: method, params: [UInt8]?.none))
        }
        if old.tools != new.tools { changed("notifications/tools/list_changed") }
        if old.resources != new.resources || old.resourceTemplates != new.resourceTemplates {
            changed("notifications/resources/list_changed")
        }
        if old.prompts != new.prompts { changed("notifications/prompts/list_changed") }
        return changes
    }
}
