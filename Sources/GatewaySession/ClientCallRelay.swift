import GatewayCore
import Logging
import Synchronization

/// Relays what an upstream sends during one call onto the client's response stream for that call:
/// progress and log notifications (logs filtered by the client's level), and requests to the
/// client, whose answers come back as POSTs and reach the upstream through
/// ``PendingClientRequests``.
package struct ClientCallRelay: UpstreamCallRelay {
    /// How the client wants log notifications.
    package enum LogFilter: Sendable {
        /// Every log notification (no level set).
        case all
        /// At or above a level.
        case atLeast(LoggingLevel)
        /// None (2026-07-28 requests that did not ask for logs).
        case none
    }

    /// Puts a message on the call's stream.
    package let send: @Sendable ([UInt8]) -> OutboundQueue.PushResult
    /// Most messages waiting on the stream (for the log line when it is full).
    package let capacity: Int
    /// The client session asked, for matching its answers.
    package let owner: String
    /// What the client can be asked; `nil` when requests cannot be relayed at all.
    package let capabilities: ClientCapabilities?
    package let logFilter: LogFilter
    /// Whether only request-scoped notifications (progress, logs) are relayed (2026-07-28).
    package let requestScopedOnly: Bool
    package let pending: PendingClientRequests
    package let logger: Logger
    package let dropped = DropCounter()
    /// For a 2026-07-28 client: the call whose questions wait for the client's retry
    /// (`input_required`); `nil` when the client is asked on its stream.
    package var rounds: InputRoundCall? = nil

    package var declaredCapabilities: ClientCapabilities { capabilities ?? [] }
    package var passesInputRequired: Bool { rounds != nil }
    package var requestedLogLevel: LoggingLevel? {
        switch logFilter {
        case .all: .debug
        case .atLeast(let level): level
        case .none: nil
        }
    }

    package func notify(_ message: JSONRPCMessage) {
        switch message.method {
        case "notifications/message":
            let level = ParamsRewriter.stringMember("level", in: message).flatMap(LoggingLevel.init(name:))
            switch logFilter {
            case .none: return
            case .all: break
            case .atLeast(let minimum): guard let level, level >= minimum else { return }
            }
        case "notifications/progress":
            break
        case "notifications/cancelled":
            // It names the upstream's own request id; the gateway withdraws its request itself.
            return
        default:
            if requestScopedOnly { return }
        }
        if send(message.bytes) == .full, dropped.increment() == 1 {
            logger.warning(
                "client stream full; dropping notifications of this call",
                metadata: ["mcp.queue.capacity": .stringConvertible(capacity)]
            )
        }
    }

    package func ask(method: String, params: [UInt8]?) async -> UpstreamReply {
        guard let capabilities else {
            return .error(
                JSONRPCError(
                    code: .methodNotFound,
                    message: "\(method) cannot be relayed to this client"
                ).errorObjectBytes
            )
        }
        guard let needed = ClientCapabilities.required(for: method), capabilities.contains(needed) else {
            return .error(
                JSONRPCError(
                    code: .methodNotFound,
                    message: "The client does not support \(method)"
                ).errorObjectBytes
            )
        }
        if let rounds { return await rounds.ask(method: method, params: params) }
        let send = send
        return await pending.ask(owner: owner) { id in
            send(JSONRPCMessage.requestBytes(id: id, method: method, params: params)) == .enqueued
        } withdrawn: { id in
            let cancelled: JSONValue = [
                "requestId": (try? JSONScanner.parse(id.raw)) ?? .null, "reason": "withdrawn by the server",
            ]
            _ = send(
                JSONRPCMessage.notificationBytes(method: "notifications/cancelled", params: cancelled.serializedBytes)
            )
        }
    }
}

/// Counts notifications dropped because a client's stream was full.
package final class DropCounter: Sendable {
    private let count = Atomic<Int>(0)

    /// Adds one and returns the new count.
    package func increment() -> Int { count.wrappingAdd(1, ordering: .relaxed).newValue }
}
