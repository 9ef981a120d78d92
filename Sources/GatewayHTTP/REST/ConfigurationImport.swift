import Foundation
import GatewayCore
import HTTPTypes

/// Imports gateways and virtual servers from an export document (``ExportDocument``, or
/// ContextForge's) through the registry, so every entity is validated, checked against the SSRF
/// policy and discovered exactly as a REST registration would be. Entities are keyed by name.
///
/// Conflict strategies (ContextForge's): `update` (the default) changes the existing entity,
/// `skip` leaves it, `rename` imports under `<name>_imported_<unix seconds>`, and `fail` refuses
/// the whole import with 409 before anything is written when any name is taken (ContextForge
/// writes what it can and fails per entity). A dry run validates everything and reports what each
/// strategy would do, without contacting upstreams or writing.
struct ConfigurationImport {
    enum Strategy: String, CaseIterable {
        case skip, update, rename, fail
    }

    struct Options {
        var strategy = Strategy.update
        var dryRun = false
        /// Names to import, by entity type; `nil` imports everything.
        var selected: [String: Set<String>]?
    }

    /// ContextForge's import status shape.
    struct Report {
        let id = UUID().uuidString.lowercased()
        let startedAt = Timestamp.now()
        var total = 0, processed = 0, created = 0, updated = 0, skipped = 0, failed = 0
        var errors: [String] = []
        var warnings: [String] = []

        func json(dryRun: Bool) -> JSONValue {
            let counters: [(String, Int)] = [
                ("total", total), ("processed", processed), ("created", created), ("updated", updated),
                ("skipped", skipped), ("failed", failed),
            ]
            let progress = JSONObject(counters.map { ($0.0, JSONValue.int(Int64($0.1))) })
            let members: [(String, JSONValue)] = [
                ("import_id", .string(id)),
                ("status", .string("completed")),
                ("dry_run", .bool(dryRun)),
                ("progress", .object(progress)),
                ("errors", .array(errors.map(JSONValue.string))),
                ("warnings", .array(warnings.map(JSONValue.string))),
                ("started_at", .string(startedAt.iso8601)),
                ("completed_at", .string(Timestamp.now().iso8601)),
            ]
            return .object(JSONObject(members))
        }
    }

    let registry: Registry
    var rules: ValidationRules { registry.rules }

    /// The parts of a document this import reads, checked before anything else happens.
    struct Entities {
        var gateways: [JSONObject] = []
        var servers: [JSONObject] = []
        /// Discovered items and roots in the file, by type: counted and skipped.
        var others: [(type: String, count: Int)] = []
    }

    /// The most entities of one type in one import: each gateway is discovered and committed in
    /// turn, so a larger document would hold the request for a long time.
    static let maximumEntities = 1000

    /// Checks the document's shape: 422 naming the first problem.
    static func entities(of document: JSONObject) throws -> Entities {
        guard let version = document["version"]?.stringValue, !version.isEmpty else {
            throw ProblemError.invalid("import_data.version", "is required and must be a non-empty string")
        }
        guard case .object(let all)? = document["entities"] else {
            throw ProblemError.invalid("import_data.entities", "is required and must be an object of arrays")
        }
        var entities = Entities()
        for (type, value) in all.members {
            guard ExportDocument.entityTypes.contains(type) else {
                throw ProblemError.invalid("import_data.entities.\(type)", "is not an entity type")
            }
            guard case .array(let items) = value else {
                throw ProblemError.invalid("import_data.entities.\(type)", "must be an array")
            }
            guard items.count <= maximumEntities else {
                throw ProblemError.invalid("import_data.entities.\(type)", "has more than \(maximumEntities) entries")
            }
            var objects: [JSONObject] = []
            for (index, item) in items.enumerated() {
                guard case .object(let object) = item,
                    let name = object["name"]?.stringValue ?? object["uri"]?.stringValue,
                    !name.isEmpty
                else {
                    throw ProblemError.invalid(
                        "import_data.entities.\(type)[\(index)]",
                        "must be an object with a name"
                    )
                }
                objects.append(object)
            }
            switch type {
            case "gateways": entities.gateways = objects
            case "servers": entities.servers = objects
            default: if !objects.isEmpty { entities.others.append((type, objects.count)) }
            }
        }
        return entities
    }

    func run(_ document: JSONObject, options: Options) async throws -> Report {
        var entities = try Self.entities(of: document)
        entities.gateways = entities.gateways.filter { isSelected($0, type: "gateways", options) }
        entities.servers = entities.servers.filter { isSelected($0, type: "servers", options) }
        var report = Report()
        report.total = entities.gateways.count + entities.servers.count + entities.others.reduce(0) { $0 + $1.count }
        for (type, count) in entities.others {
            report.skipped += count
            report.processed += count
            report.warnings.append(
                "\(count) \(type) skipped: discovered items are not imported; registering their gateway discovers them"
            )
        }
        if options.strategy == .fail {
            let taken = conflicts(entities)
            guard taken.isEmpty else {
                throw ProblemError(
                    .conflict,
                    "Already registered (conflict_strategy fail): " + taken.joined(separator: ", ")
                )
            }
        }
        for gateway in entities.gateways {
            await importGateway(gateway, options: options, into: &report)
        }
        let members = MemberIndex(registry.catalog.snapshot)
        for server in entities.servers {
            await importServer(server, members: members, options: options, into: &report)
        }
        return report
    }

    func isSelected(_ object: JSONObject, type: String, _ options: Options) -> Bool {
        guard let selected = options.selected?[type] else { return options.selected == nil }
        return selected.isEmpty || object["name"]?.stringValue.map(selected.contains) == true
    }

    func conflicts(_ entities: Entities) -> [String] {
        let snapshot = registry.catalog.snapshot
        let gateways = entities.gateways.compactMap { $0["name"]?.stringValue }.filter {
            snapshot.gateway(clashingWith: $0) != nil
        }
        let servers = entities.servers.compactMap { $0["name"]?.stringValue }.filter {
            snapshot.server(named: $0) != nil
        }
        return gateways.map { "gateway '\($0)'" } + servers.map { "server '\($0)'" }
    }

    // MARK: - Gateways

    func importGateway(_ entity: JSONObject, options: Options, into report: inout Report) async {
        let name = entity["name"]?.stringValue ?? ""
        let object = credentialsChecked(entity, name: name, into: &report)
        let existing = registry.catalog.snapshot.gateway(clashingWith: name)
        let active = entity["is_active"]?.boolValue ?? entity["enabled"]?.boolValue ?? true
        await settle("gateway", name: name, taken: existing != nil, options: options, into: &report) { name in
            var object = object
            object["name"] = .string(name)
            let input = try InputParser.gatewayInput(object, rules: rules)
            guard !options.dryRun else { return }
            let gateway = try await registry.registerGateway(input)
            if !active { _ = try await registry.setGatewayEnabled(id: gateway.id, enabled: false) }
        } update: {
            guard let gateway = existing else { return }
            var changes = object
            changes["name"] = nil
            if gateway.transport == .stdio || entity["transport"]?.stringValue?.uppercased() == "STDIO" {
                // `url` is the display form `stdio:command args`, not an address.
                changes["url"] = nil
            }
            var update = try InputParser.gatewayUpdate(changes, rules: rules)
            if var command = update.command, entity["env"] == nil, entity["environment"] == nil {
                // Environment values are never exported: the file's command keeps the stored ones.
                command.environment = gateway.command?.environment ?? [:]
                update.command = command
            }
            guard !options.dryRun else { return }
            _ = try await registry.updateGateway(id: gateway.id, update)
            if gateway.enabled != active { _ = try await registry.setGatewayEnabled(id: gateway.id, enabled: active) }
        }
    }

    /// Does what the strategy says with one entity and counts the outcome: `create` (under a new
    /// name when renaming) when its name is free or the strategy renames, `update` when the name
    /// is taken and the strategy updates; a dry run validates in both but writes nothing.
    func settle(
        _ kind: String,
        name: String,
        taken: Bool,
        options: Options,
        into report: inout Report,
        create: (_ name: String) async throws -> Void,
        update: () async throws -> Void
    ) async {
        report.processed += 1
        let wouldOrDid = options.dryRun ? "would be" : "was"
        do {
            switch (taken, options.strategy) {
            case (false, _), (true, .rename):
                let target = taken ? "\(name)_imported_\(Timestamp.now().millisecondsSince1970 / 1000)" : name
                try await create(target)
                if taken { report.warnings.append("\(kind) '\(name)' exists: \(wouldOrDid) imported as '\(target)'") }
                if options.dryRun { report.warnings.append("\(kind) '\(target)' would be created") }
                report.created += 1
            case (true, .update):
                try await update()
                if options.dryRun { report.warnings.append("\(kind) '\(name)' would be updated") }
                report.updated += 1
            case (true, .skip), (true, .fail):
                report.skipped += 1
                report.warnings.append("\(kind) '\(name)' exists: skipped")
            }
        } catch {
            report.failed += 1
            report.errors.append("\(kind) '\(name)': \(Self.reason(error))")
        }
    }

    /// The entity as a registration body. Credentials are never in our exports, and ContextForge's
    /// `auth_value` is sealed with the exporting instance's key: either way the gateway is
    /// imported without them, with a warning, unless the file spells them out in the REST fields.
    func credentialsChecked(_ entity: JSONObject, name: String, into report: inout Report) -> JSONObject {
        var object = entity
        let spelledOut = ["auth_token", "auth_username", "auth_password", "auth_header_key", "auth_header_value"]
            .contains { entity[$0] != nil }
        if let type = entity["auth_type"]?.stringValue, type != "none", !spelledOut {
            object["auth_type"] = nil
            report.warnings.append(
                "gateway '\(name)': its \(type) credentials are not in the file; "
                    + "set them with PUT /gateways/{id} if discovery needs them"
            )
        }
        object["auth_value"] = nil
        object["auth_query_params"] = nil
        return object
    }

    // MARK: - Virtual servers

    func importServer(
        _ entity: JSONObject,
        members index: MemberIndex,
        options: Options,
        into report: inout Report
    ) async {
        let name = entity["name"]?.stringValue ?? ""
        let existing = registry.catalog.snapshot.server(named: name)
        let active = entity["is_active"]?.boolValue ?? entity["enabled"]?.boolValue ?? true
        let tools = resolve(entity, keys: ["tool_ids", "associated_tools"], kind: "tool", name: name, into: &report) {
            index.tools[$0]
        }
        let resources = resolve(entity, keys: ["associated_resources"], kind: "resource", name: name, into: &report) {
            index.resources[$0]
        }
        let prompts = resolve(entity, keys: ["associated_prompts"], kind: "prompt", name: name, into: &report) {
            index.prompts[$0]
        }
        /// The entity's own fields, validated as `POST /servers` validates them, with the members.
        func input(named name: String?) throws -> ServerInput {
            var fields = JSONObject()
            for key in ["description", "icon"] { fields[key] = entity[key] }
            fields["name"] = .string(name ?? "unchanged")
            var input = try InputParser.serverInput(fields, creating: true, rules: rules)
            input.name = name
            input.toolIDs = tools
            input.resourceIDs = resources
            input.promptIDs = prompts
            return input
        }
        await settle("server", name: name, taken: existing != nil, options: options, into: &report) { name in
            let input = try input(named: name)
            guard !options.dryRun else { return }
            let server = try await registry.createServer(input)
            if !active { _ = try await registry.setServerEnabled(id: server.id, enabled: false) }
        } update: {
            guard let server = existing else { return }
            let input = try input(named: nil)
            guard !options.dryRun else { return }
            _ = try await registry.updateServer(id: server.id, input)
            if server.enabled != active { _ = try await registry.setServerEnabled(id: server.id, enabled: active) }
        }
    }

    /// Member references by id, qualified name (tools, prompts) or URI (resources), read once
    /// from the catalog after the gateways of the document were imported.
    struct MemberIndex {
        var tools: [String: String] = [:]
        var resources: [String: String] = [:]
        var prompts: [String: String] = [:]

        init(_ snapshot: CatalogSnapshot) {
            for tool in snapshot.contents.tools {
                tools[tool.id] = tool.id
                tools[tool.name] = tools[tool.name] ?? tool.id
            }
            for resource in snapshot.contents.resources {
                resources[resource.id] = resource.id
                resources[resource.uri] = resources[resource.uri] ?? resource.id
            }
            for prompt in snapshot.contents.prompts {
                prompts[prompt.id] = prompt.id
                prompts[prompt.name] = prompts[prompt.name] ?? prompt.id
            }
        }
    }

    /// Member references as ids; references that match nothing are left out with a warning.
    /// `nil` when the entity has no such member list (an update then keeps the server's own).
    func resolve(
        _ entity: JSONObject,
        keys: [String],
        kind: String,
        name: String,
        into report: inout Report,
        _ lookUp: (String) -> String?
    ) -> [String]? {
        guard let key = keys.first(where: { entity[$0] != nil }) else { return nil }
        guard case .array(let values)? = entity[key] else {
            report.warnings.append("server '\(name)': \(key) is not an array; left as it is")
            return nil
        }
        var ids: [String] = []
        for value in values {
            guard let reference = value.stringValue, let id = lookUp(reference) else {
                report.warnings.append(
                    "server '\(name)': no \(kind) '\(value.stringValue ?? "?")' in the catalog; left out"
                )
                continue
            }
            if !ids.contains(id) { ids.append(id) }
        }
        return ids
    }

    static func reason(_ error: any Error) -> String {
        switch error {
        case let problem as ProblemError: problem.detail
        case let registry as RegistryError: registry.message
        default: "the change could not be made"
        }
    }
}
