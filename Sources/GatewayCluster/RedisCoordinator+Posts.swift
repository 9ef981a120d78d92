import GatewayCore
import Logging

/// Legacy SSE without affinity: a client's `POST /message` may land on any node, while its
/// session lives on the node holding its `GET /sse` stream. That node records itself under the
/// session's ``StreamName/connection`` stream key; a node that receives a POST for a session it
/// does not hold publishes the message to the holder's channel and waits for its verdict.

extension RedisCoordinator {
    /// How old a posted message may be when the holding node receives it; older ones are refused
    /// unhandled (``PostOutcome/unavailable``: the client may retry).
    static let postStaleness: Duration = .seconds(5)
    /// How long a posting node waits for the holder's verdict: the verdict comes once the message
    /// was handled, which for a request the gateway answers itself may take an upstream round trip.
    static let postVerdictTimeout: Duration = .seconds(30)

    public func post(_ message: PostedMessage) async -> PostOutcome {
        let holder: String?
        do {
            holder = try await redis.send(["GET", .init(streamKey(message.session, StreamName.connection))]).string
        } catch {
            logger.warning("cannot look up a session's node", metadata: ["error": "\(error)"])
            return .unavailable
        }
        guard let holder, holder != shortID else { return .notFound }
        guard let (number, verdict) = postAcks.register() else { return .unavailable }
        let ticket = PostTicket(node: shortID, number: number)
        let payload = ClusterMessage.posted(message, ticket: ticket, sentAt: Timestamp.now().millisecondsSince1970)
            .bytes
        let channel = channel(ofNode: holder)
        return await withTaskGroup(of: Void.self) { group in
            group.addTask { [redis, postAcks] in
                // Nobody listening on the holder's channel: the node is gone, and the session with it.
                let receivers = try? await redis.send(["PUBLISH", .init(channel), .init(payload)]).integer
                if receivers == 0 { postAcks.settle(number, .notFound) }
                if receivers == nil { postAcks.settle(number, .unavailable) }
            }
            group.addTask { [postAcks] in
                try? await Task.sleep(for: Self.postVerdictTimeout)
                postAcks.settle(number, .unavailable)
            }
            var outcome = PostOutcome.unavailable
            for await settled in verdict {
                outcome = settled
                break
            }
            // Cancelled while waiting (the client went away): the ticket goes with it.
            postAcks.settle(number, .unavailable)
            group.cancelAll()
            return outcome
        }
    }

    public func acknowledge(_ ticket: PostTicket, _ outcome: PostOutcome) {
        guard ticket.node != shortID else { return postAcks.settle(ticket.number, outcome) }
        let verdict = ClusterMessage.verdict(outcome, ticket: ticket).bytes
        outgoing.enqueue(["PUBLISH", .init(channel(ofNode: ticket.node)), .init(verdict)])
    }
}
