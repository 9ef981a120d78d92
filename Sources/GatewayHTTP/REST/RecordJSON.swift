import GatewayCore

/// The REST representations of records, with ContextForge's camelCase field names. Credentials
/// are never included.
enum RecordJSON {
    static func optional(_ text: String?) -> JSONValue { text.map { .string($0) } ?? .null }

    static func gateway(_ gateway: GatewayRecord) -> JSONValue {
        var object = JSONObject([
            ("id", .string(gateway.id)), ("name", .string(gateway.name)), ("slug", .string(gateway.slug)),
            ("url", .string(UpstreamOrigin.redactingUserInfo(gateway.url))),
            ("description", optional(gateway.description)),
            ("transport", .string(gateway.transport.rawValue)), ("capabilities", gateway.capabilities),
            ("enabled", .bool(gateway.enabled)), ("reachable", .bool(gateway.reachable)),
            ("protocolVersion", optional(gateway.protocolVersion)),
            ("authType", gateway.auth.type == "none" ? .null : .string(gateway.auth.type)),
            ("createdAt", .string(gateway.createdAt.iso8601)), ("updatedAt", .string(gateway.updatedAt.iso8601)),
            ("lastSeen", optional(gateway.lastSeen?.iso8601)),
            ("peer", .bool(gateway.peerGatewayID != nil)), ("peerGatewayId", optional(gateway.peerGatewayID)),
            ("syncInterval", gateway.syncInterval.map { .int(Int64($0)) } ?? .null),
        ])
        if let command = gateway.command {
            // Environment values may be secrets: only their names are shown.
            object["command"] = .string(command.command)
            object["args"] = .array(command.arguments.map { .string($0) })
            object["env"] = .object(JSONObject(command.environment.keys.sorted().map { ($0, "*****") }))
        }
        return .object(object)
    }

    static func tool(_ tool: ToolRecord, gateway: GatewayRecord?) -> JSONValue {
        let definition = tool.definition
        return .object(
            JSONObject([
                ("id", .string(tool.id)), ("name", .string(tool.name)), ("originalName", .string(tool.originalName)),
                ("displayName", definition["title"] ?? .string(tool.name)),
                ("description", definition["description"] ?? .null),
                ("inputSchema", definition["inputSchema"] ?? ["type": "object"]),
                ("outputSchema", definition["outputSchema"] ?? .null),
                ("annotations", definition["annotations"] ?? [:]),
                ("gatewayId", .string(tool.gatewayID)), ("gatewaySlug", optional(gateway?.slug)),
                ("integrationType", "MCP"), ("requestType", optional(gateway?.transport.rawValue)),
                ("enabled", .bool(tool.enabled)), ("reachable", .bool(gateway?.reachable ?? false)),
                ("createdAt", .string(tool.createdAt.iso8601)),
            ])
        )
    }

    static func resource(_ resource: ResourceRecord) -> JSONValue {
        let definition = resource.definition
        return .object(
            JSONObject([
                ("id", .string(resource.id)), ("uri", .string(resource.uri)),
                ("name", definition["name"] ?? .string(resource.uri)),
                ("description", definition["description"] ?? .null), ("mimeType", definition["mimeType"] ?? .null),
                ("size", definition["size"] ?? .null), ("gatewayId", .string(resource.gatewayID)),
                ("enabled", .bool(resource.enabled)), ("createdAt", .string(resource.createdAt.iso8601)),
            ])
        )
    }

    static func template(_ template: ResourceTemplateRecord) -> JSONValue {
        var object = template.definition
        object["id"] = .string(template.id)
        object["gatewayId"] = .string(template.gatewayID)
        return .object(object)
    }

    static func prompt(_ prompt: PromptRecord) -> JSONValue {
        let definition = prompt.definition
        return .object(
            JSONObject([
                ("id", .string(prompt.id)), ("name", .string(prompt.name)),
                ("originalName", .string(prompt.originalName)), ("description", definition["description"] ?? .null),
                ("arguments", definition["arguments"] ?? []), ("gatewayId", .string(prompt.gatewayID)),
                ("enabled", .bool(prompt.enabled)), ("createdAt", .string(prompt.createdAt.iso8601)),
            ])
        )
    }

    static func server(_ server: VirtualServerRecord) -> JSONValue {
        .object(
            JSONObject([
                ("id", .string(server.id)), ("name", .string(server.name)),
                ("description", optional(server.description)), ("icon", optional(server.icon)),
                ("enabled", .bool(server.enabled)),
                ("associatedTools", .array(server.toolIDs.map { .string($0) })),
                ("associatedResources", .array(server.resourceIDs.map { .string($0) })),
                ("associatedPrompts", .array(server.promptIDs.map { .string($0) })),
                ("createdAt", .string(server.createdAt.iso8601)), ("updatedAt", .string(server.updatedAt.iso8601)),
            ])
        )
    }
}
