import AsyncHTTPClient
import GatewayCore
import Logging
import NIOCore

/// Streaming reads of call responses and upstream cancellation.
extension HTTPUpstreamClient {
    /// Reads an SSE response body event by event into `sink`; returns the final message.
    static func readEvents(
        of body: HTTPClientResponse.Body,
        limit: Int,
        sink: @Sendable ([UInt8]) -> Bool
    ) async throws -> ByteBuffer {
        var parser = SSEParser(maximumEventSize: limit)
        var final = ByteBuffer()
        func take(_ events: [SSEEvent]) {
            for event in events where event.event == "message" && !event.data.isEmpty && sink(event.data) {
                final = ByteBuffer(bytes: event.data)
            }
        }
        do {
            for try await chunk in body { take(try parser.feed(chunk.readableBytesView)) }
            take(try parser.feed(Array("\n\n".utf8)))
        } catch is SSEParser.Overflow {
            throw UpstreamError(.tooLarge, "an upstream event exceeds \(limit) bytes")
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as UpstreamError {
            throw error
        } catch {
            throw UpstreamError(.unreachable, "the connection closed")
        }
        return final
    }

    /// Tells the upstream to stop working on `requestID` (the client cancelled, or the deadline
    /// passed). Sent as a job of the client's service with a short deadline; failures are only logged.
    func cancelUpstream(_ target: UpstreamTarget, session: UpstreamSession, requestID: JSONRPCID, reason: String) {
        let params: JSONValue = [
            "requestId": (try? JSONScanner.parse(requestID.raw)) ?? .null, "reason": .string(reason),
        ]
        let body = JSONRPCMessage.notificationBytes(method: "notifications/cancelled", params: params.serializedBytes)
        let logger = logger
        readerJobsContinuation.yield { [self] in
            let deadline = NIODeadline.now() + .seconds(5)
            do {
                if let connection = session.sseConnection {
                    try await ssePost(target, connection: connection, body: body, deadline: deadline)
                } else {
                    _ = try await postMessage(target, session: session, body: body, deadline: deadline)
                }
            } catch {
                logger.debug(
                    "could not cancel an upstream request",
                    metadata: ["upstream.id": .string(target.gatewayID)]
                )
            }
        }
    }
}
