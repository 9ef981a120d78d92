import GatewayCore
import Logging

/// What other nodes of a cluster send about this node's sessions.
extension SessionEngine {
    /// Acts on session traffic from other nodes until cancelled: events for streams held here,
    /// answers to this node's requests to clients, cancellations of calls running here, ended
    /// sessions, streams another node took over, and messages posted on other nodes for
    /// connection-bound sessions held here (handled concurrently, as if posted here).
    public func serveBus(logger: Logger) async {
        guard let bus = runtime.bus else { return }
        await withDiscardingTaskGroup { group in
            for await message in bus.incoming() {
                switch message {
                case .posted(let posted, let ticket):
                    group.addTask { await receive(posted: posted, ticket: ticket, logger: logger) }
                case .retry(let retry, let ticket):
                    serve(retry, ticket: ticket, bus: bus)
                default:
                    act(on: message)
                }
            }
        }
    }

    /// Acts on a message that needs no waiting.
    func act(on message: SessionBusMessage) {
        switch message {
        case .event(let session, let event):
            runtime.streams.push(event, session: session)
        case .answer(let id, let owner, let reply):
            _ = runtime.pending.resolve(id: id, owner: owner, reply: reply)
        case .cancellation(let id, let owner):
            _ = runtime.inFlight.cancel(InFlightCalls.Key(owner: owner, id: id))
        case .ended(let session):
            end(session: session)
        case .released(let session, let stream):
            runtime.streams.release(session: session, stream: stream)
        case .retryAbandoned(let ticket):
            runtime.inputRounds.abandon(ticket)
        case .posted, .retry:
            break
        }
    }
}
