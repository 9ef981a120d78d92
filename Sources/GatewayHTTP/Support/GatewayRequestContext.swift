import Hummingbird
import HummingbirdWebSocket

/// A request context that carries who was authenticated.
public protocol AuthenticatedRequestContext: RequestContext {
    /// Set by ``BearerAuthMiddleware`` once the request's token was accepted.
    var principal: Principal? { get set }
}

/// Per-request state: Hummingbird's core storage plus who was authenticated.
public struct GatewayRequestContext: AuthenticatedRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var principal: Principal?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.principal = nil
    }
}

/// The context of WebSocket upgrade requests (`/ws`), authenticated like every other route.
public struct GatewayWebSocketContext: AuthenticatedRequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    public var principal: Principal?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
        self.principal = nil
    }
}
