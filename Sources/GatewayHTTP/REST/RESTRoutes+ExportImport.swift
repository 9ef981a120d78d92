import Foundation
import GatewayAuth
import GatewayCore
import Hummingbird

/// `GET /export` and `POST /import` (ContextForge's paths and bodies), for admin tokens only:
/// the catalog's registrations as one JSON document, and that document registered again here or
/// on another gateway. See ``ExportDocument`` and ``ConfigurationImport``.
extension RESTRoutes {
    func registerExportImport(on group: RouterGroup<GatewayRequestContext>) {
        group.get("export") { request, context in
            let principal = try Self.requireAdmin(context, "Configuration export")
            let document = ExportDocument.make(
                catalog.snapshot,
                types: try Self.exportTypes(request),
                includeInactive: try Self.flag("include_inactive", in: request, default: true),
                exportedBy: principal.subject,
                source: "http://" + (request.head.authority ?? "localhost")
            )
            audited(context, "configuration.export", "catalog", "export")
            return Self.json(document)
        }
        group.post("import") { request, context in
            _ = try Self.requireAdmin(context, "Configuration import")
            // An export of a large catalog is bigger than a REST body usually is.
            let body = try await RequestJSON.object(
                request,
                limit: max(maximumBodyBytes, Self.maximumImportBytes),
                depth: rules.maximumJSONDepth,
                reader: bodyReader
            )
            guard case .object(let document)? = body["import_data"] else {
                throw ProblemError.invalid("import_data", "is required and must be an export document (an object)")
            }
            let options = try Self.importOptions(body)
            let report = try await ConfigurationImport(registry: registry).run(document, options: options)
            audited(
                context,
                options.dryRun ? "configuration.import.dry_run" : "configuration.import",
                "catalog",
                report.id
            )
            return Self.json(report.json(dryRun: options.dryRun))
        }
    }

    /// The largest import document accepted (or MAX_REQUEST_BODY_BYTES, if larger).
    static let maximumImportBytes = 16 << 20

    static func requireAdmin(_ context: GatewayRequestContext, _ what: String) throws -> Principal {
        let principal = try context.requirePrincipal()
        guard principal.isAdmin else {
            throw ProblemError(.forbidden, "\(what) needs an admin token (mcpgateway token --admin)")
        }
        return principal
    }

    /// `types` (default: gateways and servers) minus `exclude_types`, as ContextForge reads them.
    static func exportTypes(_ request: Request) throws -> Set<String> {
        func list(_ key: String) throws -> Set<String>? {
            guard let text = request.uri.queryParameters.get(key) else { return nil }
            let names = Set(
                text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            )
            for name in names where !ExportDocument.entityTypes.contains(name) {
                throw ProblemError.invalid(key, "'\(name)' is not an entity type")
            }
            return names
        }
        let types = try list("types") ?? Set(ExportDocument.exportedTypes)
        return types.subtracting(try list("exclude_types") ?? [])
    }

    static func importOptions(_ body: JSONObject) throws -> ConfigurationImport.Options {
        var options = ConfigurationImport.Options()
        if let value = body["conflict_strategy"], !value.isNull {
            guard let text = value.stringValue, let strategy = ConfigurationImport.Strategy(rawValue: text) else {
                let names = ConfigurationImport.Strategy.allCases.map(\.rawValue).joined(separator: ", ")
                throw ProblemError.invalid("conflict_strategy", "must be one of \(names)")
            }
            options.strategy = strategy
        }
        if let value = body["dry_run"], !value.isNull {
            guard let dryRun = value.boolValue else { throw ProblemError.invalid("dry_run", "must be true or false") }
            options.dryRun = dryRun
        }
        if body["rekey_secret"].map({ !$0.isNull }) == true {
            // ContextForge re-seals its encrypted credentials with it; this gateway never reads
            // sealed credentials from a file, so there is nothing to re-key.
            throw ProblemError.invalid("rekey_secret", "is not supported: credentials are never imported from a file")
        }
        if let value = body["selected_entities"], !value.isNull {
            guard case .object(let selection) = value else {
                throw ProblemError.invalid("selected_entities", "must be an object of name arrays by entity type")
            }
            var selected: [String: Set<String>] = [:]
            for (type, names) in selection.members {
                guard ExportDocument.entityTypes.contains(type), case .array(let items) = names,
                    items.allSatisfy({ $0.stringValue != nil })
                else {
                    throw ProblemError.invalid(
                        "selected_entities.\(type)",
                        "must be an array of names of an entity type"
                    )
                }
                selected[type] = Set(items.compactMap(\.stringValue))
            }
            options.selected = selected
        }
        return options
    }
}
