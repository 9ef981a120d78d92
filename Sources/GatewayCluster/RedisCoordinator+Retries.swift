import GatewayCore

/// 2026-07-28 retries without affinity: a call that asked its client for input (`input_required`)
/// runs on one node, and the client's retry may land on any. The node it lands on publishes it to
/// the holding node's channel (named in the sealed `requestState`), which answers on the
/// receiving node's channel: the call's notifications, then the reply.
extension RedisCoordinator {
    public func retry(_ retry: InputRoundRetry, on node: String) async -> AsyncStream<InputRoundEvent> {
        let shortID = shortID
        let outgoing = outgoing
        let holderChannel = channel(ofNode: node)
        guard
            let (number, events) = retries.open(abandoned: { number in
                let abandoned = ClusterMessage.retryAbandoned(ticket: PostTicket(node: shortID, number: number))
                outgoing.enqueue(["PUBLISH", .init(holderChannel), .init(abandoned.bytes)])
            })
        else { return AsyncStream { $0.finish() } }
        let payload = ClusterMessage.retry(retry, ticket: PostTicket(node: shortID, number: number)).bytes
        // Nobody listening on the holder's channel: the node is gone, and the call with it.
        let receivers = try? await redis.send(["PUBLISH", .init(holderChannel), .init(payload)]).integer
        if receivers == nil || receivers == 0 { retries.fail(number) }
        return events
    }

    public func answerRetry(_ ticket: PostTicket, _ event: InputRoundEvent) {
        guard ticket.node != shortID else { return retries.deliver(event, to: ticket.number) }
        let message = ClusterMessage.round(event, ticket: ticket).bytes
        outgoing.enqueue(["PUBLISH", .init(channel(ofNode: ticket.node)), .init(message)])
    }
}
