import GatewayAuth
import GatewayCore
import GatewayHTTPFraming
import GatewaySession
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// `subscriptions/listen` (2026-07-28): the response to the request is a long-lived SSE stream
/// that starts with `notifications/subscriptions/acknowledged` and carries the list changes and
/// resource updates the client opted into, each tagged with the listen request's id in
/// `_meta["io.modelcontextprotocol/subscriptionId"]`. Closing the stream ends the subscription
/// (and releases upstream resource subscriptions nobody else holds). No replay: a client whose
/// stream dropped listens again and refetches.
extension MCPRoutes {
    static let subscriptionIDKey = "io.modelcontextprotocol/subscriptionId"

    /// What one listen stream asked for.
    struct ListenFilter: Sendable {
        var toolsListChanged = false
        var promptsListChanged = false
        var resourcesListChanged = false
        var resourceURIs: [String] = []

        init(_ value: JSONValue?) throws(JSONRPCError) {
            guard case .object(let object)? = value else {
                throw JSONRPCError.invalidParams("\"notifications\" must be an object")
            }
            toolsListChanged = object["toolsListChanged"]?.boolValue == true
            promptsListChanged = object["promptsListChanged"]?.boolValue == true
            resourcesListChanged = object["resourcesListChanged"]?.boolValue == true
            if let uris = object["resourceSubscriptions"], !uris.isNull {
                guard let array = uris.arrayValue, array.count <= 1000 else {
                    throw JSONRPCError.invalidParams("\"resourceSubscriptions\" must be an array of at most 1000 URIs")
                }
                resourceURIs = try array.map { (element: JSONValue) throws(JSONRPCError) -> String in
                    guard let uri = element.stringValue else {
                        throw JSONRPCError.invalidParams("\"resourceSubscriptions\" must hold strings")
                    }
                    return uri
                }
            }
        }

        /// The honored subset, as sent in the acknowledgment.
        var honored: JSONValue {
            var object = JSONObject()
            if toolsListChanged { object["toolsListChanged"] = true }
            if promptsListChanged { object["promptsListChanged"] = true }
            if resourcesListChanged { object["resourcesListChanged"] = true }
            if !resourceURIs.isEmpty { object["resourceSubscriptions"] = .array(resourceURIs.map { .string($0) }) }
            return .object(object)
        }

        func wants(_ method: String?) -> Bool {
            switch method {
            case "notifications/tools/list_changed": toolsListChanged
            case "notifications/prompts/list_changed": promptsListChanged
            case "notifications/resources/list_changed": resourcesListChanged
            case "notifications/resources/updated": !resourceURIs.isEmpty
            default: false
            }
        }
    }

    func listen(_ message: JSONRPCMessage, serverID: String?, request: Request) async -> Response {
        let id = message.id ?? .null
        let filter: ListenFilter
        do { filter = try ListenFilter(ParamsRewriter.member("notifications", in: message)) } catch {
            return MCPReply.error(error.answering(id), status: .badRequest)
        }
        guard MCPReply.acceptsEventStream(request) else {
            return MCPReply.error(
                JSONRPCError.invalidRequest("subscriptions/listen answers as text/event-stream", id: id),
                status: .notAcceptable
            )
        }
        // The stream is a session of its own in the gateway's bookkeeping: list changes reach it
        // like a GET stream, resource updates like a subscriber.
        let key = "listen-" + SessionSealer.newKey()
        for uri in filter.resourceURIs {
            // A URI no upstream serves is honored and never fires, as the SDK server does.
            _ = await engine.subscribe(uri: uri, session: key, serverID: serverID)
        }
        let queue = OutboundQueue(capacity: runtime.streamCapacity)
        runtime.streams.attach(queue, session: key, stream: StreamName.get, serverID: serverID)
        let meta = JSONValue.object(JSONObject([(Self.subscriptionIDKey, (try? JSONScanner.parse(id.raw)) ?? .null)]))
        let acknowledged = JSONValue.object(JSONObject([("notifications", filter.honored), ("_meta", meta)]))
        let opening = JSONRPCMessage.notificationBytes(
            method: "notifications/subscriptions/acknowledged",
            params: acknowledged.serializedBytes
        )
        let keepAlive = runtime.keepAlive
        let routes = self
        // The subscription ends with the response, even if its body never runs.
        let cleanup = ResponseCleanup { _ in
            routes.runtime.streams.forget(session: key)
            routes.engine.endSubscriptions(of: key)
        }
        return Response(
            status: .ok,
            headers: MCPReply.eventStreamHeaders(),
            body: ResponseBody { writer in
                let pinged = keepAlive.register(queue)
                defer {
                    keepAlive.unregister(pinged)
                    cleanup.run()
                }
                do {
                    try await writer.write(SSEEncoding.buffer(StreamEvent(data: opening)))
                    try await queue.drain { event in
                        if event.isKeepAlive {
                            try await writer.write(SSEEncoding.buffer(event))
                        } else if let tagged = Self.tag(event.data, meta: meta, filter: filter) {
                            try await writer.write(SSEEncoding.buffer(StreamEvent(data: tagged)))
                        }
                    }
                    if Task.isShuttingDownGracefully { try await writer.write(SSEEncoding.reconnectBuffer()) }
                    try await writer.finish(nil)
                } catch {
                    // The client closed the stream: the subscription ends.
                }
            }
        )
    }

    /// The notification with the subscription id in its `_meta`, or `nil` when the stream did not
    /// ask for its kind.
    static func tag(_ notification: [UInt8], meta: JSONValue, filter: ListenFilter) -> [UInt8]? {
        guard let message = try? JSONRPCMessage(bytes: notification), filter.wants(message.method),
            let method = message.method
        else { return nil }
        var params = message.paramsBytes.flatMap { try? JSONScanner.parse(Array($0)) }?.objectValue ?? JSONObject()
        if method == "notifications/resources/updated" {
            guard let uri = params["uri"]?.stringValue, filter.resourceURIs.contains(uri) else { return nil }
        }
        params["_meta"] = meta
        return JSONRPCMessage.notificationBytes(method: method, params: JSONValue.object(params).serializedBytes)
    }
}
