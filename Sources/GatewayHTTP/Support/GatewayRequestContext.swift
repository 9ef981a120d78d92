import GatewayAuth
import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// A request context that carries who was authenticated and from where.
public protocol AuthenticatedRequestContext: RequestContext {
    /// Set by ``BearerAuthMiddleware`` once the request's token was accepted.
    var principal: Principal? { get set }
    /// The address of the socket's peer (a proxy's, behind one).
    var peerAddress: SocketAddress? { get }
}

extension AuthenticatedRequestContext {
    /// The peer's IP address as text, for logs and the audit trail.
    public var peerIP: String? { peerAddress?.ipAddress }
}

/// Per-request state: Hummingbird's core storage plus who was authenticated.
public struct GatewayRequestContext: AuthenticatedRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var principal: Principal?
    public let peerAddress: SocketAddress?
    /// The connection, closed when its client stops reading a stream (its queue overflowed).
    public let channel: any Channel

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.principal = nil
        self.peerAddress = source.channel.remoteAddress
        self.channel = source.channel
    }
}

/// The context of WebSocket upgrade requests (`/ws`), authenticated like every other route.
public struct GatewayWebSocketContext: AuthenticatedRequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    public var principal: Principal?
    public let peerAddress: SocketAddress?
    /// The connection, closed when its client stops reading (its queue overflowed).
    public let channel: any Channel

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
        self.principal = nil
        self.peerAddress = source.channel.remoteAddress
        self.channel = source.channel
    }
}

extension AuthenticatedRequestContext {
    /// The authenticated principal; 401 when the route was reached without one.
    public func requirePrincipal() throws -> Principal {
        guard let principal else { throw BearerAuth.unauthorized("A bearer token is required") }
        return principal
    }
}
