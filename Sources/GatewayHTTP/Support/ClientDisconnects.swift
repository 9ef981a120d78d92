import NIOCore
import Synchronization

/// Notices from the connection itself that a client went away (it closed its side, or the
/// connection dropped) while its request is being handled, so a 2026-07-28 call, which its client
/// cancels by closing the request, is cancelled at once rather than at the next keep-alive write.
///
/// ``watcher()`` makes the channel handler that reports each connection's end; a request handler
/// asks ``whenGone(_:_:)`` to be told. One entry per open connection (bounded by the server's
/// connection limit), each with the watches of the request it is serving.
public final class ClientDisconnects: Sendable {
    private struct Connection {
        var gone = false
        var watches: [Int: @Sendable () -> Void] = [:]
    }

    private struct State {
        var next = 0
        var connections: [ObjectIdentifier: Connection] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// A handler for the HTTP/1 pipeline (one per connection) that reports its connection's end.
    public func watcher() -> DisconnectWatcher { DisconnectWatcher(disconnects: self) }

    /// Calls `action` once when the client of `channel` goes away; returns the watch to pass to
    /// ``stopWatching(_:_:)`` when the request is answered. A client already gone gets `action`
    /// at once (and `nil`); a connection not watched gets `nil`, and `action` at once when it is
    /// closed.
    public func whenGone(_ channel: any Channel, _ action: @escaping @Sendable () -> Void) -> Int? {
        let (watch, goneAlready) = state.withLock { state -> (Int?, Bool) in
            // Not watched: the connection ended already (forgotten), or it is not one of ours.
            guard var connection = state.connections[ObjectIdentifier(channel)] else {
                return (nil, !channel.isActive)
            }
            if connection.gone { return (nil, true) }
            state.next += 1
            connection.watches[state.next] = action
            state.connections[ObjectIdentifier(channel)] = connection
            return (state.next, false)
        }
        if goneAlready { action() }
        return watch
    }

    /// The request was answered: its watch goes.
    public func stopWatching(_ channel: any Channel, _ watch: Int) {
        state.withLock { state in
            _ = state.connections[ObjectIdentifier(channel)]?.watches.removeValue(forKey: watch)
        }
    }

    /// Connections watched now.
    public var count: Int { state.withLock { $0.connections.count } }

    func opened(_ channel: any Channel) {
        state.withLock { $0.connections[ObjectIdentifier(channel)] = Connection() }
    }

    /// The client closed its side, or the connection ended: every watch fires once.
    func clientLeft(_ channel: any Channel, forget: Bool) {
        let actions = state.withLock { state -> [@Sendable () -> Void] in
            let key = ObjectIdentifier(channel)
            guard var connection = state.connections[key] else { return [] }
            let actions = Array(connection.watches.values)
            connection.watches = [:]
            connection.gone = true
            state.connections[key] = forget ? nil : connection
            return actions
        }
        for action in actions { action() }
    }
}

/// Reports its connection's end to ``ClientDisconnects``: the client closing its side (with
/// half-closure allowed, the connection stays open for the answer) or the connection closing.
public final class DisconnectWatcher: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    public typealias InboundIn = NIOAny

    let disconnects: ClientDisconnects

    init(disconnects: ClientDisconnects) {
        self.disconnects = disconnects
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        disconnects.opened(context.channel)
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        disconnects.clientLeft(context.channel, forget: true)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            disconnects.clientLeft(context.channel, forget: false)
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        disconnects.clientLeft(context.channel, forget: true)
        context.fireChannelInactive()
    }
}
