import Foundation
import GatewayCore
import Synchronization

/// The streams of stateful client sessions on this node: which stream of which session has a
/// connection attached, the ids of the events sent on them, and their replay buffer.
///
/// A session has one GET stream (`g`: list changes and other messages not tied to a request) and
/// one stream per call answered as SSE (`c<n>`). Every event gets an id and is recorded before it
/// is pushed to the attached connection, if any; a connection that drops detaches, and the
/// client resumes any stream, with `Last-Event-ID`, on a new GET.
package final class SessionStreams: Sendable {
    package let log: any SessionEventLog
    /// Hands events for streams held by other nodes to them (cluster mode).
    package let bus: (any SessionBus)?
    private let sequence = Atomic<Int>(0)
    private let table: Mutex<StreamTable<OutboundQueue, ContinuousClock.Instant>>
    /// Microseconds since 1970 (event numbers).
    private let wallClock: @Sendable () -> Int

    package init(
        log: any SessionEventLog,
        retention: Duration,
        bus: (any SessionBus)? = nil,
        wallClock: @escaping @Sendable () -> Int = { Int(Date().timeIntervalSince1970 * 1_000_000) }
    ) {
        self.log = log
        self.bus = bus
        self.wallClock = wallClock
        self.table = Mutex(StreamTable(retention: retention))
    }

    /// Sessions with streams on this node (attached, or collecting events for a resume), and the
    /// connections attached to them.
    package var counts: (sessions: Int, streams: Int) { table.withLock { $0.counts } }

    /// A fresh event number (``EventSequence``).
    package func nextSequence() -> Int {
        let now = wallClock()
        var last = sequence.load(ordering: .relaxed)
        while true {
            let next = EventSequence.next(after: last, now: now)
            let (exchanged, original) = sequence.compareExchange(expected: last, desired: next, ordering: .relaxed)
            if exchanged { return next }
            last = original
        }
    }

    /// Attaches a connection to a stream of `session`, replacing (and ending) any connection
    /// already there. Returns `false` when the stream is a call stream that already ended.
    @discardableResult
    package func attach(_ queue: OutboundQueue, session: String, stream: String, serverID: String?) -> Bool {
        let (replaced, open) = table.withLock { $0.attach(queue, session: session, stream: stream, serverID: serverID) }
        replaced?.finish()
        return open
    }

    /// Detaches `queue` if it is still the stream's connection; returns whether it was.
    @discardableResult
    package func detach(_ queue: OutboundQueue, session: String, stream: String) -> Bool {
        let now = ContinuousClock.now
        return table.withLock { $0.detach(queue, session: session, stream: stream, at: now) }
    }

    /// Another node holds the stream now: this node's connection to it ends, and a GET stream
    /// stops collecting list changes here (its new node announces them).
    package func release(session: String, stream: String) {
        table.withLock { $0.release(session: session, stream: stream) }?.finish()
    }

    /// Sends a message on a stream: recorded for replay, then pushed to the attached connection
    /// (or forwarded to the node holding the stream). A final response also ends the stream;
    /// responses (`essential`) are never refused.
    @discardableResult
    package func deliver(
        _ data: [UInt8],
        session: String,
        stream: String,
        isFinal: Bool = false,
        essential: Bool = false
    ) -> OutboundQueue.PushResult {
        // Numbering, recording and pushing happen under one lock (none of them waits), so a
        // stream's events are recorded, forwarded and sent in the order of their numbers.
        table.withLock { table in
            let event = LoggedEvent(stream: stream, sequence: nextSequence(), data: data, isFinal: isFinal)
            log.record(event, session: session)
            switch table.deliver(session: session, stream: stream, isFinal: isFinal) {
            case .forward:
                bus?.forward(event, session: session)
                return .enqueued
            case .push(let queue, let finish):
                let result = queue.push(
                    StreamEvent(id: event.eventID, data: data, isFinal: isFinal, isEssential: essential)
                )
                if finish { queue.finish() }
                return result
            }
        }
    }

    /// Pushes an event another node recorded to the stream, if it is attached here.
    package func push(_ event: LoggedEvent, session: String) {
        table.withLock { table in
            guard let queue = table.push(session: session, stream: event.stream, isFinal: event.isFinal) else { return }
            _ = queue.push(StreamEvent(id: event.eventID, data: event.data, isFinal: event.isFinal, isEssential: true))
            if event.isFinal { queue.finish() }
        }
    }

    /// Sends `messages(serverID)` on the GET stream of every session that has one (attached, or
    /// dropped less than `retention` ago); forgets sessions whose GET stream is long gone.
    package func broadcast(_ messages: (String?) -> [[UInt8]]) {
        let now = ContinuousClock.now
        let listeners = table.withLock { $0.listeners(at: now) }
        var byServer: [String?: [[UInt8]]] = [:]
        for listener in listeners {
            let batch = byServer[listener.serverID] ?? messages(listener.serverID)
            byServer[listener.serverID] = batch
            for message in batch { deliver(message, session: listener.session, stream: StreamName.get) }
        }
    }

    /// The events of the stream named by `eventID` after it, and whether that stream is over.
    package func replay(
        session: String,
        after eventID: String
    ) async -> (stream: String, events: [StreamEvent], completed: Bool)? {
        guard let (stream, sequence) = LoggedEvent.parse(eventID: eventID) else { return nil }
        let events = await log.events(session: session, stream: stream, after: sequence)
        let completed = events.contains(where: \.isFinal)
        return (stream, events.map { StreamEvent(id: $0.eventID, data: $0.data, isFinal: $0.isFinal) }, completed)
    }

    /// The session ended: its streams close and its events are dropped.
    package func forget(session: String) {
        for queue in table.withLock({ $0.forget(session: session) }) { queue.finish() }
        log.forget(session: session)
    }

}
