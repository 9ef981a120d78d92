import GatewayCore
import Synchronization

/// A client session bound to one connection (legacy HTTP+SSE, WebSocket): it lives as long as the
/// connection, and everything the gateway says to the client, responses included, goes out on
/// that connection's single stream.
public final class ConnectionSession: Sendable {
    /// What `initialize` settled.
    public struct Negotiated: Sendable {
        public var protocolVersion: String
        public var capabilities: ClientCapabilities
    }

    /// Random and unguessable: it names the session in `POST /message?session_id=`.
    public let key: String
    /// Who opened it.
    public let subject: String
    /// The virtual server it was opened on, or `nil` for the whole catalog.
    public let serverID: String?
    private let negotiated: Mutex<Negotiated>

    /// Whether its messages may arrive on other nodes (legacy SSE `POST /message` behind a load
    /// balancer): then its node is recorded for the cluster while it is open.
    public let reachable: Bool

    public init(key: String, subject: String, serverID: String?, protocolVersion: String, reachable: Bool = false) {
        self.reachable = reachable
        self.key = key
        self.subject = subject
        self.serverID = serverID
        self.negotiated = Mutex(Negotiated(protocolVersion: protocolVersion, capabilities: []))
    }

    /// The protocol version and client capabilities in force.
    public var current: Negotiated { negotiated.withLock { $0 } }

    func initialized(protocolVersion: String, capabilities: ClientCapabilities) {
        negotiated.withLock { $0 = Negotiated(protocolVersion: protocolVersion, capabilities: capabilities) }
    }
}

/// The connection-bound sessions open on this node, by key; bounded.
package final class ConnectionSessions: Sendable {
    package let capacity: Int
    private let sessions = Mutex<[String: ConnectionSession]>([:])

    package init(capacity: Int) {
        self.capacity = capacity
    }

    /// Adds a session; `false` when `capacity` sessions are open already.
    package func insert(_ session: ConnectionSession) -> Bool {
        sessions.withLock { sessions in
            guard sessions.count < capacity else { return false }
            sessions[session.key] = session
            return true
        }
    }

    /// Removes the session; returns it, if it was here.
    @discardableResult
    package func remove(_ key: String) -> ConnectionSession? {
        sessions.withLock { $0.removeValue(forKey: key) }
    }

    package subscript(key: String) -> ConnectionSession? { sessions.withLock { $0[key] } }

    package var count: Int { sessions.withLock { $0.count } }
}
