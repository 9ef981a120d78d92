import GatewayCore

/// Which client connection holds which stream of which session on this node, as a pure state
/// machine: no locks, no clock of its own, no I/O. ``SessionStreams`` keeps one behind its lock
/// and carries out what it returns: ending replaced or released connections after the lock is
/// released, while pushing an event (to its connection, or to the bus for the node holding its
/// stream) stays under the lock, because a stream's events must go out in the order of their
/// numbers (neither waits). Tests drive it with a manual instant.
///
/// A session has one GET stream (``StreamName/get``) and one stream per call answered as SSE. A
/// GET stream that drops keeps collecting events (for replay) for `retention`; a call stream
/// that ends while no connection is attached is remembered, so a client resuming it is told at
/// once that it is over.
struct StreamTable<Connection: AnyObject, Instant: InstantProtocol> where Instant.Duration == Duration {
    struct Entry {
        /// Connections by stream name.
        var attached: [String: Connection] = [:]
        /// The virtual server the session is on (for list changes).
        var serverID: String?
        /// When the GET stream last dropped; it still gets events (for replay) for a while.
        var getDetachedAt: Instant?
        /// Call streams that ended while no connection was attached.
        var completed: Set<String> = []

        var isIdle: Bool { attached.isEmpty && getDetachedAt == nil && completed.isEmpty }
    }

    /// Where an event recorded for a stream goes.
    enum Delivery {
        /// To the connection attached here; `finish`: the stream is over, end the connection
        /// after the event.
        case push(Connection, finish: Bool)
        /// Nowhere on this node: to the node holding the stream, if any.
        case forward
    }

    /// How long a session whose GET stream dropped keeps collecting its events.
    let retention: Duration
    private(set) var entries: [String: Entry] = [:]

    init(retention: Duration) {
        self.retention = retention
    }

    /// Attaches `connection` to a stream, replacing (the caller ends) any connection already
    /// there; `open` is `false` when the stream is a call stream that already ended.
    mutating func attach(
        _ connection: Connection,
        session: String,
        stream: String,
        serverID: String?
    ) -> (replaced: Connection?, open: Bool) {
        var entry = entries[session] ?? Entry()
        entry.serverID = serverID
        if entry.completed.contains(stream) { return (nil, false) }
        if stream == StreamName.get { entry.getDetachedAt = nil }
        let replaced = entry.attached.updateValue(connection, forKey: stream)
        entries[session] = entry
        return (replaced === connection ? nil : replaced, true)
    }

    /// Detaches `connection` if it is still the stream's; returns whether it was.
    mutating func detach(_ connection: Connection, session: String, stream: String, at now: Instant) -> Bool {
        guard var entry = entries[session], entry.attached[stream] === connection else { return false }
        entry.attached[stream] = nil
        if stream == StreamName.get { entry.getDetachedAt = now }
        entries[session] = entry
        return true
    }

    /// Another node took the stream over: returns this node's connection to it (to end). A GET
    /// stream stops collecting here (its new node does).
    mutating func release(session: String, stream: String) -> Connection? {
        guard var entry = entries[session] else { return nil }
        let connection = entry.attached.removeValue(forKey: stream)
        if stream == StreamName.get { entry.getDetachedAt = nil }
        entries[session] = entry.isIdle ? nil : entry
        return connection
    }

    /// An event recorded on this node for a stream: where it goes. A final event ends the stream
    /// here, remembered as completed if no connection saw it.
    mutating func deliver(session: String, stream: String, isFinal: Bool) -> Delivery {
        guard var entry = entries[session] else { return .forward }
        let connection = entry.attached[stream]
        if isFinal {
            entry.attached[stream] = nil
            if connection == nil { entry.completed.insert(stream) }
            entries[session] = entry.isIdle ? nil : entry
        }
        guard let connection else { return .forward }
        return .push(connection, finish: isFinal)
    }

    /// An event another node recorded: the connection attached here, if any (never forwarded).
    mutating func push(session: String, stream: String, isFinal: Bool) -> Connection? {
        guard var entry = entries[session], let connection = entry.attached[stream] else { return nil }
        if isFinal {
            entry.attached[stream] = nil
            entries[session] = entry
        }
        return connection
    }

    /// The sessions that hear list changes (a GET stream attached, or dropped less than
    /// `retention` ago), with their server; forgets sessions whose GET stream is long gone.
    mutating func listeners(at now: Instant) -> [(session: String, serverID: String?)] {
        var listeners: [(String, String?)] = []
        for (session, entry) in entries {
            if entry.attached.isEmpty, entry.getDetachedAt.map({ $0.duration(to: now) > retention }) ?? true {
                entries[session] = nil
                continue
            }
            if entry.attached[StreamName.get] != nil || entry.getDetachedAt != nil {
                listeners.append((session, entry.serverID))
            }
        }
        return listeners
    }

    /// The session ended: its connections (to end).
    mutating func forget(session: String) -> [Connection] {
        entries.removeValue(forKey: session).map { Array($0.attached.values) } ?? []
    }

    /// Sessions with streams here, and connections attached.
    var counts: (sessions: Int, streams: Int) {
        (entries.count, entries.values.reduce(0) { $0 + $1.attached.count })
    }
}

/// Event numbers: microseconds since 1970, or one more than the last if that is larger. They
/// never repeat on a node, and events numbered on different nodes keep their order (to within
/// the nodes' clock difference), which replay relies on.
enum EventSequence {
    static func next(after last: Int, now: Int) -> Int { max(now, last + 1) }
}
