import DequeModule

/// The replay buffers of every session on one node, as a value with no clock of its own: time
/// comes in with each call, so expiry and eviction are tested without sleeping.
///
/// Bounds, all enforced on every record:
/// - per session: at most `eventsPerSession` events and `bytesPerSession` bytes (the oldest go
///   first; an event larger than the byte budget alone is not kept, it was still delivered live);
/// - per node: at most `totalBytes` bytes and `maximumSessions` sessions (the sessions idle for
///   longest go first, down to nine tenths of the bound, so eviction is not paid on every record);
/// - in time: nothing older than `retention` is replayed, and expired events go on the next
///   record of their session or the next eviction.
public struct ReplayBuffers<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// The bounds; see the type's documentation.
    public struct Limits: Sendable {
        public var eventsPerSession: Int
        public var bytesPerSession: Int
        public var totalBytes: Int
        public var maximumSessions: Int
        public var retention: Duration

        public init(
            eventsPerSession: Int,
            bytesPerSession: Int,
            totalBytes: Int,
            maximumSessions: Int,
            retention: Duration
        ) {
            self.eventsPerSession = eventsPerSession
            self.bytesPerSession = bytesPerSession
            self.totalBytes = totalBytes
            self.maximumSessions = maximumSessions
            self.retention = retention
        }
    }

    struct Kept: Sendable {
        var event: LoggedEvent
        var at: Instant
        var bytes: Int
    }

    struct Session: Sendable {
        var kept: Deque<Kept> = []
        var bytes = 0
    }

    public let limits: Limits
    private(set) var sessions: [String: Session] = [:]
    /// Bytes kept over all sessions.
    public private(set) var totalBytes = 0

    public init(limits: Limits) { self.limits = limits }

    /// What one event costs against the byte bounds: its message and stream name, plus the
    /// bookkeeping around them.
    public static func cost(of event: LoggedEvent) -> Int { event.data.count + event.stream.utf8.count + 64 }

    /// Keeps `event` for `session`; `false` when it alone exceeds the per-session byte budget.
    @discardableResult
    public mutating func record(_ event: LoggedEvent, session id: String, now: Instant) -> Bool {
        let bytes = Self.cost(of: event)
        guard bytes <= limits.bytesPerSession else { return false }
        var session = sessions.removeValue(forKey: id) ?? Session()
        session.kept.append(Kept(event: event, at: now, bytes: bytes))
        session.bytes += bytes
        totalBytes += bytes
        while let oldest = session.kept.first,
            session.kept.count > limits.eventsPerSession || session.bytes > limits.bytesPerSession
                || oldest.at.duration(to: now) > limits.retention
        {
            session.kept.removeFirst()
            session.bytes -= oldest.bytes
            totalBytes -= oldest.bytes
        }
        sessions[id] = session
        if sessions.count > limits.maximumSessions || totalBytes > limits.totalBytes { evictIdlest(now: now) }
        return true
    }

    /// The events of `stream` after `sequence`, oldest first, none older than the retention.
    public func events(session: String, stream: String, after sequence: Int, now: Instant) -> [LoggedEvent] {
        guard let kept = sessions[session]?.kept else { return [] }
        return kept.filter {
            $0.event.stream == stream && $0.event.sequence > sequence && $0.at.duration(to: now) <= limits.retention
        }.map(\.event)
    }

    /// Drops everything kept for `session`.
    public mutating func forget(session: String) {
        if let removed = sessions.removeValue(forKey: session) { totalBytes -= removed.bytes }
    }

    /// How many sessions have events kept.
    public var sessionCount: Int { sessions.count }

    /// Drops expired sessions, then the idlest ones until both node bounds are met with a tenth
    /// to spare.
    mutating func evictIdlest(now: Instant) {
        let sessionTarget = limits.maximumSessions - max(1, limits.maximumSessions / 10)
        let byteTarget = limits.totalBytes - limits.totalBytes / 10
        let byLastEvent = sessions.map { ($0.key, $0.value.kept.last?.at ?? now) }.sorted { $0.1 < $1.1 }
        for (id, last) in byLastEvent {
            let expired = last.duration(to: now) > limits.retention
            guard expired || sessions.count > sessionTarget || totalBytes > byteTarget else { break }
            forget(session: id)
        }
    }
}
