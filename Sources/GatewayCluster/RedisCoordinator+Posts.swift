import Foundation
import GatewayCore
import Logging

/// Legacy SSE without affinity: a client's `POST /message` may land on any node, while its
/// session lives on the node holding its `GET /sse` stream. That node records itself under the
/// session's ``StreamName/connection`` stream key; a node that receives a POST for a session it
/// does not hold publishes the message to the holder's channel and waits for its verdict.
///
/// These messages are JSON (a ``BusEnvelope`` with a version), not tab-separated fields.
extension RedisCoordinator {
    /// How long a posting node waits for the holder's verdict.
    static let postVerdictTimeout: Duration = .seconds(5)

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
        let envelope = BusEnvelope(posted: message, ticket: PostTicket(node: shortID, number: number))
        let channel = channel(ofNode: holder)
        return await withTaskGroup(of: Void.self) { group in
            group.addTask { [redis, postAcks] in
                guard let payload = try? JSONEncoder().encode(envelope) else {
                    return postAcks.settle(number, .unavailable)
                }
                // Nobody listening on the holder's channel: the node is gone, and the session with it.
                let receivers = try? await redis.send(["PUBLISH", .init(channel), .init(Array(payload))]).integer
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
        let envelope = BusEnvelope(verdict: outcome, ticket: ticket)
        guard let payload = try? JSONEncoder().encode(envelope) else { return }
        outgoing.enqueue(["PUBLISH", .init(channel(ofNode: ticket.node)), .init(Array(payload))])
    }

    /// A JSON message on this node's channel: a post for a session held here, or the verdict on
    /// one this node posted. `false` when the payload is not one.
    func receivedEnvelope(_ payload: [UInt8]) -> Bool {
        guard payload.first == UInt8(ascii: "{") else { return false }
        guard let envelope = try? JSONDecoder().decode(BusEnvelope.self, from: Data(payload)),
            envelope.v == BusEnvelope.version
        else {
            logger.debug("unreadable message on the session bus")
            return true
        }
        if let posted = envelope.posted {
            sessionMessages.yield(.posted(posted, ticket: envelope.ticket))
        } else if let verdict = envelope.verdict {
            postAcks.settle(envelope.ticket.number, verdict)
        }
        return true
    }
}

/// A typed message between nodes, versioned so that nodes of different builds ignore what they
/// cannot read rather than misread it.
struct BusEnvelope: Codable {
    static let version = 1
    var v = BusEnvelope.version
    var ticket: PostTicket
    var posted: PostedMessage?
    var verdict: PostOutcome?

    init(posted: PostedMessage, ticket: PostTicket) {
        self.ticket = ticket
        self.posted = posted
    }

    init(verdict: PostOutcome, ticket: PostTicket) {
        self.ticket = ticket
        self.verdict = verdict
    }
}
