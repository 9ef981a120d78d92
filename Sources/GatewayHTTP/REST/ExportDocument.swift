import GatewayCore

/// The catalog's registrations as one portable JSON document, in the shape of ContextForge's
/// export (`version`, `exported_at`, `exported_by`, `source_gateway`, `encryption_method`,
/// `entities`, `metadata`), for `GET /export` and `mcpgateway export`.
///
/// Exported: upstream gateways (name, url, transport, description, active state, the kind of
/// credentials; stdio command and arguments) and virtual servers (members by qualified name, not
/// by id: item ids are made anew at every registration). Not exported: discovered tools,
/// resources and prompts (registering the gateway discovers them again, as ContextForge's import
/// does), and secrets: credentials and stdio environment values stay in the store, and
/// `metadata.secrets_omitted` lists what an importer must supply.
public enum ExportDocument {
    /// The entity types a document may carry (ContextForge's names); only gateways and servers
    /// have content here.
    public static let entityTypes = ["gateways", "servers", "tools", "resources", "prompts", "roots"]
    static let exportedTypes = ["gateways", "servers"]

    /// The document for `snapshot`.
    /// - Parameters:
    ///   - types: which of `gateways`, `servers` to include.
    ///   - includeInactive: include disabled gateways and servers (the default: an export is
    ///     usually a backup).
    public static func make(
        _ snapshot: CatalogSnapshot,
        types: Set<String>,
        includeInactive: Bool,
        exportedBy: String,
        source: String
    ) -> JSONValue {
        var entities = JSONObject()
        var counts = JSONObject()
        var omitted: [JSONValue] = []
        if types.contains("gateways") {
            let gateways = snapshot.contents.gateways.filter { includeInactive || $0.enabled }
            entities["gateways"] = .array(gateways.map { gateway(in: $0, omitted: &omitted) })
            counts["gateways"] = .int(Int64(gateways.count))
        }
        var dependencies = JSONObject()
        if types.contains("servers") {
            let servers = snapshot.contents.servers.filter { includeInactive || $0.enabled }
            entities["servers"] = .array(servers.map { server($0, snapshot) })
            counts["servers"] = .int(Int64(servers.count))
            dependencies["servers_to_tools"] = .object(
                JSONObject(servers.map { ($0.name, .array(toolNames($0, snapshot).map(JSONValue.string))) })
            )
        }
        let metadata: JSONValue = [
            "entity_counts": .object(counts),
            "dependencies": .object(dependencies),
            "export_options": [
                "include_inactive": .bool(includeInactive),
                "selected_types": .array(exportedTypes.filter(types.contains).map(JSONValue.string)),
                "include_secrets": false,
            ],
            "secrets_omitted": .array(omitted),
        ]
        return .object(
            JSONObject([
                ("version", .string(ProtocolVersions.latestStateful)),
                ("exported_at", .string(Timestamp.now().iso8601)),
                ("exported_by", .string(exportedBy)),
                ("source_gateway", .string(source)),
                ("encryption_method", "none"),
                ("entities", .object(entities)),
                ("metadata", metadata),
            ])
        )
    }

    static func gateway(in record: GatewayRecord, omitted: inout [JSONValue]) -> JSONValue {
        var object = JSONObject([
            ("name", .string(record.name)),
            ("url", .string(UpstreamOrigin.redactingUserInfo(record.url))),
            ("description", record.description.map(JSONValue.string) ?? .null),
            ("transport", .string(record.transport.rawValue)),
            ("capabilities", record.capabilities),
            ("is_active", .bool(record.enabled)),
            ("tags", []),
        ])
        if let seconds = record.syncInterval { object["sync_interval"] = .int(Int64(seconds)) }
        if record.auth.type != UpstreamAuth.none.type {
            object["auth_type"] = .string(record.auth.type)
            omitted.append(["gateway": .string(record.name), "field": "auth_value"])
        }
        if let command = record.command {
            object["command"] = .string(command.command)
            object["args"] = .array(command.arguments.map(JSONValue.string))
            if !command.environment.isEmpty {
                omitted.append([
                    "gateway": .string(record.name), "field": "env",
                    "names": .array(command.environment.keys.sorted().map(JSONValue.string)),
                ])
            }
        }
        return .object(object)
    }

    static func server(_ record: VirtualServerRecord, _ snapshot: CatalogSnapshot) -> JSONValue {
        var object = JSONObject([
            ("name", .string(record.name)),
            ("description", record.description.map(JSONValue.string) ?? .null),
            ("is_active", .bool(record.enabled)),
            ("tags", []),
            ("tool_ids", .array(toolNames(record, snapshot).map(JSONValue.string))),
            (
                "associated_resources",
                .array(record.resourceIDs.compactMap { snapshot.resourcesByID[$0]?.uri }.map(JSONValue.string))
            ),
            (
                "associated_prompts",
                .array(record.promptIDs.compactMap { snapshot.promptsByID[$0]?.name }.map(JSONValue.string))
            ),
        ])
        if let icon = record.icon { object["icon"] = .string(icon) }
        return .object(object)
    }

    static func toolNames(_ record: VirtualServerRecord, _ snapshot: CatalogSnapshot) -> [String] {
        record.toolIDs.compactMap { snapshot.toolsByID[$0]?.name }
    }
}
