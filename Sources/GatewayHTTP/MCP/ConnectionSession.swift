import GatewayCore
import Synchronization

/// A client session bound to one connection (legacy HTTP+SSE, WebSocket): it lives as long as the
/// connection, and everything the gateway says to the client, responses included, goes out on
/// that connection's single stream.
final class ConnectionSession: Sendable {
    struct Negotiated {
        var protocolVersion: String
        var capabilities: ClientCapabilities
    }

    /// Random and unguessable: it names the session in `POST /message?session_id=`.
    let key: String
    let subject: String
    let serverID: String?
    private let negotiated: Mutex<Negotiated>

    init(key: String, subject: String, serverID: String?, protocolVersion: String) {
        self.key = key
        self.subject = subject
        self.serverID = serverID
        self.negotiated = Mutex(Negotiated(protocolVersion: protocolVersion, capabilities: []))
    }

    var current: Negotiated { negotiated.withLock { $0 } }

    func initialized(protocolVersion: String, capabilities: ClientCapabilities) {
        negotiated.withLock { $0 = Negotiated(protocolVersion: protocolVersion, capabilities: capabilities) }
    }
}

/// The connection-bound sessions open on this node, by key; bounded.
final class ConnectionSessions: Sendable {
    let capacity: Int
    private let sessions = Mutex<[String: ConnectionSession]>([:])

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Adds a session; `false` when `capacity` sessions are open already.
    func insert(_ session: ConnectionSession) -> Bool {
        sessions.withLock { sessions in
            guard sessions.count < capacity else { return false }
            sessions[session.key] = session
            return true
        }
    }

    func remove(_ key: String) {
        _ = sessions.withLock { $0.removeValue(forKey: key) }
    }

    subscript(key: String) -> ConnectionSession? { sessions.withLock { $0[key] } }

    var count: Int { sessions.withLock { $0.count } }
}
