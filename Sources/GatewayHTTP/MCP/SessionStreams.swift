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
final class SessionStreams: Sendable {
    struct Entry {
        /// Connections by stream name.
        var attached: [String: OutboundQueue] = [:]
        /// The virtual server the session is on (for list changes).
        var serverID: String?
        /// When the GET stream last dropped; it still gets events (for replay) for a while.
        var getDetachedAt: ContinuousClock.Instant?
        /// Call streams that ended while no connection was attached (a resuming GET ends at once).
        var completed: Set<String> = []
    }

    let log: any SessionEventLog
    /// How long a session whose GET stream dropped keeps collecting its events.
    let retention: Duration
    /// Hands events for streams held by other nodes to them (cluster mode).
    let bus: (any SessionBus)?
    private let sequence = Atomic<Int>(0)
    private let entries = Mutex<[String: Entry]>([:])

    init(log: any SessionEventLog, retention: Duration, bus: (any SessionBus)? = nil) {
        self.log = log
        self.retention = retention
        self.bus = bus
    }

    /// Sessions with streams on this node (attached, or collecting events for a resume), and the
    /// connections attached to them.
    var counts: (sessions: Int, streams: Int) {
        entries.withLock { entries in
            (entries.count, entries.values.reduce(0) { $0 + $1.attached.count })
        }
    }

    /// A fresh sequence number: microseconds since 1970, or one more than the last one if that is
    /// larger. Ids never repeat on a node, and events numbered on different nodes of a cluster
    /// keep their order (to within the nodes' clock difference), which replay relies on.
    func nextSequence() -> Int {
        let now = Int(Date().timeIntervalSince1970 * 1_000_000)
        var last = sequence.load(ordering: .relaxed)
        while true {
            let next = max(now, last + 1)
            let (exchanged, original) = sequence.compareExchange(
                expected: last,
                desired: next,
                ordering: .relaxed
            )
            if exchanged { return next }
            last = original
        }
    }

    /// Attaches a connection to a stream of `session`, replacing (and ending) any connection
    /// already there. Returns `false` when the stream is a call stream that already ended.
    @discardableResult
    func attach(_ queue: OutboundQueue, session: String, stream: String, serverID: String?) -> Bool {
        let (replaced, open): (OutboundQueue?, Bool) = entries.withLock { entries in
            var entry = entries[session] ?? Entry()
            entry.serverID = serverID
            if entry.completed.contains(stream) { return (nil, false) }
            if stream == "g" { entry.getDetachedAt = nil }
            let replaced = entry.attached.updateValue(queue, forKey: stream)
            entries[session] = entry
            return (replaced, true)
        }
        if let replaced, replaced !== queue { replaced.finish() }
        return open
    }

    /// Detaches `queue` if it is still the stream's connection.
    /// Detaches `queue` if it is still the stream's connection; returns whether it was.
    @discardableResult
    func detach(_ queue: OutboundQueue, session: String, stream: String) -> Bool {
        entries.withLock { entries in
            guard var entry = entries[session], entry.attached[stream] === queue else { return false }
            entry.attached[stream] = nil
            if stream == "g" { entry.getDetachedAt = .now }
            entries[session] = entry
            return true
        }
    }

    /// Another node holds the stream now: this node's connection to it ends, and a GET stream
    /// stops collecting list changes here (its new node announces them).
    func release(session: String, stream: String) {
        let queue: OutboundQueue? = entries.withLock { entries in
            guard var entry = entries[session] else { return nil }
            let queue = entry.attached.removeValue(forKey: stream)
            if stream == "g" { entry.getDetachedAt = nil }
            let idle = entry.attached.isEmpty && entry.getDetachedAt == nil && entry.completed.isEmpty
            entries[session] = idle ? nil : entry
            return queue
        }
        queue?.finish()
    }

    /// Sends a message on a stream: recorded for replay, then pushed to the attached connection.
    /// A final response also ends the stream; responses (`essential`) are never refused.
    @discardableResult
    func deliver(
        _ data: [UInt8],
        session: String,
        stream: String,
        isFinal: Bool = false,
        essential: Bool = false
    ) -> OutboundQueue.PushResult {
        // Numbering, recording and pushing happen under one lock (none of them waits), so a
        // stream's events are recorded and sent in the order of their numbers.
        entries.withLock { entries in
            let event = LoggedEvent(stream: stream, sequence: nextSequence(), data: data, isFinal: isFinal)
            log.record(event, session: session)
            guard var entry = entries[session] else {
                bus?.forward(event, session: session)
                return .enqueued
            }
            let queue = entry.attached[stream]
            if isFinal {
                entry.attached[stream] = nil
                if queue == nil { entry.completed.insert(stream) }
                let idle = entry.attached.isEmpty && entry.getDetachedAt == nil && entry.completed.isEmpty
                entries[session] = idle ? nil : entry
            }
            guard let queue else {
                bus?.forward(event, session: session)
                return .enqueued
            }
            let result = queue.push(
                StreamEvent(id: event.eventID, data: data, isFinal: isFinal, isEssential: essential)
            )
            if isFinal { queue.finish() }
            return result
        }
    }

    /// Pushes an event another node recorded to the stream, if it is attached here.
    func push(_ event: LoggedEvent, session: String) {
        entries.withLock { entries in
            guard var entry = entries[session], let queue = entry.attached[event.stream] else { return }
            _ = queue.push(StreamEvent(id: event.eventID, data: event.data, isFinal: event.isFinal, isEssential: true))
            if event.isFinal {
                entry.attached[event.stream] = nil
                entries[session] = entry
                queue.finish()
            }
        }
    }

    /// Sends `messages(serverID)` on the GET stream of every session that has one (attached, or
    /// dropped less than `retention` ago); forgets sessions whose GET stream is long gone.
    func broadcast(_ messages: (String?) -> [[UInt8]]) {
        let now = ContinuousClock.now
        let targets: [(session: String, serverID: String?)] = entries.withLock { entries in
            var targets: [(String, String?)] = []
            for (session, entry) in entries {
                if entry.attached.isEmpty, entry.getDetachedAt.map({ now - $0 > retention }) ?? true {
                    entries[session] = nil
                    continue
                }
                if entry.attached["g"] != nil || entry.getDetachedAt != nil {
                    targets.append((session, entry.serverID))
                }
            }
            return targets
        }
        var byServer: [String?: [[UInt8]]] = [:]
        for target in targets {
            let batch = byServer[target.serverID] ?? messages(target.serverID)
            byServer[target.serverID] = batch
            for message in batch { deliver(message, session: target.session, stream: "g") }
        }
    }

    /// The events of the stream named by `eventID` after it, and whether that stream is over.
    func replay(
        session: String,
        after eventID: String
    ) async -> (stream: String, events: [StreamEvent], completed: Bool)? {
        guard let (stream, sequence) = LoggedEvent.parse(eventID: eventID) else { return nil }
        let events = await log.events(session: session, stream: stream, after: sequence)
        let completed = events.contains(where: \.isFinal)
        return (stream, events.map { StreamEvent(id: $0.eventID, data: $0.data, isFinal: $0.isFinal) }, completed)
    }

    /// The session ended: its streams close and its events are dropped.
    func forget(session: String) {
        let attached = entries.withLock { $0.removeValue(forKey: session)?.attached.values.map { $0 } ?? [] }
        for queue in attached { queue.finish() }
        log.forget(session: session)
    }

    /// How many sessions have streams (attached or recently dropped).
    var sessionCount: Int { entries.withLock { $0.count } }
}
