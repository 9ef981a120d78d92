/// One event sent on a client session's stream, kept for replay.
public struct LoggedEvent: Sendable, Equatable {
    /// The stream it was sent on: `g` for the session's GET stream, `c<n>` for a call's POST stream.
    public var stream: String
    /// Increases with every event the node sends; orders events within a stream.
    public var sequence: Int
    /// The JSON-RPC message.
    public var data: [UInt8]
    /// Whether it is the response that ends a call's stream.
    public var isFinal: Bool

    public init(stream: String, sequence: Int, data: [UInt8], isFinal: Bool) {
        self.stream = stream
        self.sequence = sequence
        self.data = data
        self.isFinal = isFinal
    }

    /// The SSE event id (`<stream>-<sequence>`) a client sends back as `Last-Event-ID`.
    public var eventID: String { "\(stream)-\(sequence)" }

    /// The stream and sequence named by an event id, or `nil` if it is not one of ours.
    public static func parse(eventID: String) -> (stream: String, sequence: Int)? {
        guard let dash = eventID.firstIndex(of: "-"), let sequence = Int(eventID[eventID.index(after: dash)...]),
            sequence >= 0
        else { return nil }
        let stream = String(eventID[..<dash])
        guard stream == StreamName.get || (stream.first == "c" && Int(stream.dropFirst()) != nil) else { return nil }
        return (stream, sequence)
    }
}

/// The replay buffer of client sessions: what was sent on their streams, bounded in count and
/// age, so a client that reconnects with `Last-Event-ID` gets what it missed.
///
/// Recording never waits (it is called while relaying); reading may. The embedded implementation
/// keeps events in memory; a cluster keeps them where every node can read them.
public protocol SessionEventLog: Sendable {
    /// Keeps `event` for `session`.
    func record(_ event: LoggedEvent, session: String)
    /// The events of `stream` after `sequence`, oldest first (those still kept).
    func events(session: String, stream: String, after sequence: Int) async -> [LoggedEvent]
    /// Drops everything kept for `session` (it ended).
    func forget(session: String)
    /// Returns once everything recorded before the call is readable by every node.
    func flush() async
}

extension SessionEventLog {
    /// Kept in memory: readable as soon as recorded.
    public func flush() async {}
}
