import GatewayCore

/// What other nodes of a cluster send about this node's sessions.
extension MCPRoutes {
    /// Acts on session traffic from other nodes until cancelled: events for streams held here,
    /// answers to this node's requests to clients, cancellations of calls running here, ended
    /// sessions, and streams another node took over.
    public func serveBus() async {
        guard let bus = runtime.bus else { return }
        for await message in bus.incoming() {
            switch message {
            case .event(let session, let event):
                runtime.streams.push(event, session: session)
            case .answer(let id, let owner, let reply):
                _ = runtime.pending.resolve(id: id, owner: owner, reply: reply)
            case .cancellation(let id, let owner):
                _ = runtime.inFlight.cancel(InFlightCalls.Key(owner: owner, id: id))
            case .ended(let session):
                runtime.logLevels.forget(session)
                runtime.streams.forget(session: session)
                endSubscriptions(of: session)
            case .released(let session, let stream):
                runtime.streams.release(session: session, stream: stream)
            }
        }
    }
}
