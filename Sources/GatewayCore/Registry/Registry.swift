import Foundation
import Logging
import Synchronization

/// The registry's write side: registers upstreams (discovering their items first), maintains
/// virtual servers, and keeps the in-memory catalog in step with the store.
public struct Registry: Sendable {
    public let store: any Store
    public let upstream: any UpstreamClient
    public let coordinator: any Coordinator
    public let catalog: CatalogHolder
    public let naming: Naming
    /// Deadline for discovery at registration.
    public let discoveryTimeout: Duration
    public let logger: Logger
    /// What discovered items must satisfy to enter the catalog.
    public let rules: ValidationRules
    /// This deployment's federation identity: stamped on listed items, checked on imported ones.
    public let federation: Federation
    private let commitHooks = CommitHooks()

    public init(
        store: any Store,
        upstream: any UpstreamClient,
        coordinator: any Coordinator,
        catalog: CatalogHolder,
        naming: Naming,
        discoveryTimeout: Duration,
        logger: Logger,
        rules: ValidationRules = ValidationRules(),
        federation: Federation = .none
    ) {
        self.rules = rules
        self.federation = federation
        self.store = store
        self.upstream = upstream
        self.coordinator = coordinator
        self.catalog = catalog
        self.naming = naming
        self.discoveryTimeout = discoveryTimeout
        self.logger = logger
    }

    /// Reloads the snapshot from the store.
    public func reload() async throws {
        let ticket = catalog.ticket()
        let contents = try await store.loadCatalog()
        catalog.replace(with: CatalogSnapshot(contents: contents, federation: federation), ticket: ticket)
    }

    /// Reloads the snapshot from the store and installs it only if it differs from the one in
    /// force: how a node that missed a change announcement catches up. Returns whether it did.
    @discardableResult
    public func reconcile() async throws -> Bool {
        let ticket = catalog.ticket()
        let contents = try await store.loadCatalog()
        guard contents != catalog.snapshot.contents else { return false }
        return catalog.replace(with: CatalogSnapshot(contents: contents, federation: federation), ticket: ticket)
    }

    /// Work to run after this node commits a change, before the write is answered, given the
    /// snapshots before and after (cluster mode records list changes for streams whose node died).
    public typealias CommitHook = @Sendable (_ old: CatalogSnapshot, _ new: CatalogSnapshot) async -> Void

    /// Adds work to run after every change this node commits.
    public func afterCommit(_ hook: @escaping CommitHook) {
        commitHooks.add(hook)
    }

    /// Makes a change visible: on this node at once, on the others through the coordinator.
    /// The commit hooks run before the write is answered.
    func committed() async {
        let old = catalog.snapshot
        do {
            try await reload()
        } catch {
            logger.error("catalog reload failed after a write", metadata: ["error": "\(String(describing: error))"])
        }
        do {
            try await coordinator.publishCatalogChanged()
        } catch {
            // Other nodes catch up at their next reconciliation (``reconcile()``).
            AnnouncementMetrics.failed(.catalog)
            logger.warning("catalog change could not be announced", metadata: ["error": "\(error)"])
        }
        let new = catalog.snapshot
        for hook in commitHooks.all { await hook(old, new) }
    }

    static func newID() -> String {
        UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }

    // MARK: - Gateways

    /// Registers an upstream: discovers it, then stores it with its items. Nothing is stored if
    /// discovery fails.
    public func registerGateway(_ input: GatewayInput) async throws -> GatewayRecord {
        let snapshot = catalog.snapshot
        let slug = Naming.slug(input.name)
        guard !slug.isEmpty else { throw RegistryError.invalid("name", "must contain letters or digits") }
        if snapshot.gateway(clashingWith: input.name) != nil {
            throw RegistryError(.conflict, "A gateway named '\(input.name)' already exists", field: "name")
        }
        let id = Self.newID()
        let target = UpstreamTarget(
            gatewayID: id,
            url: input.url,
            transport: input.transport,
            auth: input.auth,
            command: input.command
        )
        let discovered = try await discover(target)
        do { try checkNotSelf(discovered, url: input.url) } catch {
            await upstream.release(gatewayID: id)
            throw error
        }
        let now = Timestamp.now()
        let gateway = GatewayRecord(
            id: id,
            name: input.name,
            slug: slug,
            url: input.url,
            description: input.description,
            transport: input.transport,
            enabled: true,
            reachable: true,
            capabilities: discovered.capabilities,
            protocolVersion: discovered.protocolVersion,
            auth: input.auth,
            createdAt: now,
            updatedAt: now,
            lastSeen: now,
            command: input.command,
            syncInterval: input.syncInterval
        )
        do {
            let items = try makeItems(for: gateway, discovered: discovered, previous: nil, snapshot: snapshot)
            try await write { try await store.insertGateway(gateway, items: items) }
        } catch {
            await upstream.release(gatewayID: id)
            throw error
        }
        await committed()
        return gateway
    }

    /// Whether `items` are what the snapshot already holds for the gateway (same definitions
    /// under the same upstream names and URIs; ids aside). Definitions are compared as the store
    /// writes them: a number read back from the store may come back as another JSON number type.
    static func sameItems(_ items: GatewayItems, in snapshot: CatalogSnapshot, gatewayID: String) -> Bool {
        func keyed<Item>(_ list: [Item], _ key: (Item) -> String, _ value: (Item) -> JSONObject) -> [String: String] {
            Dictionary(
                list.map { (key($0), JSONValue.object(value($0)).serializedString) },
                uniquingKeysWith: { first, _ in first }
            )
        }
        let contents = snapshot.contents
        return keyed(items.tools, \.originalName, \.definition)
            == keyed(contents.tools.filter { $0.gatewayID == gatewayID }, \.originalName, \.definition)
            && keyed(items.prompts, \.originalName, \.definition)
                == keyed(contents.prompts.filter { $0.gatewayID == gatewayID }, \.originalName, \.definition)
            && keyed(items.resources, \.uri, \.definition)
                == keyed(contents.resources.filter { $0.gatewayID == gatewayID }, \.uri, \.definition)
            && keyed(items.resourceTemplates, \.uriTemplate, \.definition)
                == keyed(contents.resourceTemplates.filter { $0.gatewayID == gatewayID }, \.uriTemplate, \.definition)
    }

    /// Updates an upstream; a changed URL, transport or credentials means discovery again.
    public func updateGateway(id: String, _ update: GatewayUpdate) async throws -> GatewayRecord {
        let snapshot = catalog.snapshot
        guard var gateway = snapshot.gatewaysByID[id] else { throw RegistryError.notFound("Gateway", id) }
        if let name = update.name, name != gateway.name {
            let slug = Naming.slug(name)
            guard !slug.isEmpty else { throw RegistryError.invalid("name", "must contain letters or digits") }
            if snapshot.gateway(clashingWith: name, except: id) != nil {
                throw RegistryError(.conflict, "A gateway named '\(name)' already exists", field: "name")
            }
            gateway.name = name
            gateway.slug = slug
        }
        if let url = update.url { try Self.checkCredentialsFollow(gateway, to: url, update: update) }
        let needsDiscovery =
            (update.url.map { $0 != gateway.url } ?? false)
            || (update.transport.map { $0 != gateway.transport } ?? false)
            || (update.auth.map { $0 != gateway.auth } ?? false) || update.name != nil
            || (update.command.map { $0 != gateway.command } ?? false)
        if let url = update.url { gateway.url = url }
        if let transport = update.transport { gateway.transport = transport }
        if let auth = update.auth { gateway.auth = auth }
        if let command = update.command {
            gateway.command = command
            gateway.url = command.displayURL
        }
        guard (gateway.transport == .stdio) == (gateway.command != nil) else {
            throw RegistryError.invalid("transport", "STDIO upstreams take a command; the others a url")
        }
        if let description = update.description { gateway.description = description }
        if let syncInterval = update.syncInterval { gateway.syncInterval = syncInterval }
        gateway.updatedAt = Timestamp.now(after: gateway.updatedAt)
        var items: GatewayItems?
        if needsDiscovery {
            await upstream.release(gatewayID: id)
            let target = gateway.target
            let discovered = try await discover(target)
            do { try checkNotSelf(discovered, url: gateway.url) } catch {
                await upstream.release(gatewayID: id)
                throw error
            }
            gateway.capabilities = discovered.capabilities
            gateway.protocolVersion = discovered.protocolVersion
            gateway.reachable = true
            gateway.lastSeen = gateway.updatedAt
            do {
                items = try makeItems(for: gateway, discovered: discovered, previous: snapshot, snapshot: snapshot)
            } catch {
                await upstream.release(gatewayID: id)
                throw error
            }
        }
        let finalItems = items
        let finalGateway = gateway
        do {
            try await write { try await store.updateGateway(finalGateway, items: finalItems) }
        } catch {
            if needsDiscovery { await upstream.release(gatewayID: id) }
            throw error
        }
        await committed()
        return gateway
    }

    /// Refuses to move an upstream that has credentials to another origin (scheme, host, port)
    /// unless the same update gives its credentials again (or `auth_type: none`): stored
    /// credentials are never sent to a host they were not given for.
    static func checkCredentialsFollow(_ gateway: GatewayRecord, to url: String, update: GatewayUpdate) throws {
        guard update.auth == nil, !gateway.auth.headers.isEmpty,
            UpstreamOrigin(url: gateway.url) != UpstreamOrigin(url: url)
        else { return }
        let from = UpstreamOrigin(url: gateway.url)?.description ?? "its current address"
        let to = UpstreamOrigin(url: url)?.description ?? url
        throw RegistryError.invalid(
            "auth_type",
            "the url moves the upstream from \(from) to \(to), and its stored credentials are not sent to another origin: give them again in the same request (auth_type with its fields, or auth_type none)"
        )
    }

    /// Lists an upstream's items again (it announced a list change) and stores what changed;
    /// item ids, and so virtual server memberships, survive. Disabled or unknown gateways are
    /// left alone.
    ///
    /// With `fencingEpoch` (the leader's periodic work) the write is refused with
    /// ``StoreError/Code/fenced`` when a newer leader has written since. The listing is slow, so
    /// the write happens only if nobody changed the gateway meanwhile (a deactivation, a new URL
    /// or credentials are never undone by it); otherwise the listing is done once more from the
    /// changed record (a disabled gateway is then left alone). Returns whether it was written.
    @discardableResult
    public func refreshGateway(id: String, fencingEpoch: Int64? = nil, retry: Bool = true) async throws -> Bool {
        let snapshot = catalog.snapshot
        guard var gateway = snapshot.gatewaysByID[id], gateway.enabled else { return false }
        let basis = gateway.updatedAt
        let target = gateway.target
        let discovered = try await upstream.discover(target, timeout: discoveryTimeout)
        gateway.capabilities = discovered.capabilities
        gateway.protocolVersion = discovered.protocolVersion
        gateway.reachable = true
        gateway.lastSeen = Timestamp.now()
        let items = try makeItems(for: gateway, discovered: discovered, previous: snapshot, snapshot: snapshot)
        if let current = snapshot.gatewaysByID[id], current.reachable,
            current.capabilities.serializedString == gateway.capabilities.serializedString,
            current.protocolVersion == gateway.protocolVersion, Self.sameItems(items, in: snapshot, gatewayID: id)
        {
            // Nothing changed: no write, and no catalog reload on every node for nothing.
            return true
        }
        let refreshed = gateway
        let written = try await write {
            try await store.updateGateway(refreshed, items: items, ifUnchangedSince: basis, fencingEpoch: fencingEpoch)
        }
        await committed()
        guard !written else { return true }
        logger.info("refresh dropped: the gateway changed while it was listed", metadata: ["upstream.id": "\(id)"])
        return retry ? try await refreshGateway(id: id, fencingEpoch: fencingEpoch, retry: false) : false
    }

    /// Records whether an upstream can be reached (the upstream client noticed it); nothing is
    /// written when it is already so, or when the gateway changed since the snapshot.
    public func setGatewayReachable(id: String, reachable: Bool, fencingEpoch: Int64? = nil) async throws {
        guard var gateway = catalog.snapshot.gatewaysByID[id], gateway.reachable != reachable else { return }
        let basis = gateway.updatedAt
        gateway.reachable = reachable
        if reachable { gateway.lastSeen = Timestamp.now() }
        let changed = gateway
        _ = try await write {
            try await store.updateGateway(changed, items: nil, ifUnchangedSince: basis, fencingEpoch: fencingEpoch)
        }
        await committed()
    }

    /// Enables or disables an upstream; a disabled upstream's items leave every MCP listing.
    public func setGatewayEnabled(id: String, enabled: Bool) async throws -> GatewayRecord {
        guard var gateway = catalog.snapshot.gatewaysByID[id] else { throw RegistryError.notFound("Gateway", id) }
        gateway.enabled = enabled
        // Activation gives an upstream a fresh chance: calls go to it again, and the health
        // checks mark it unreachable again if it still fails.
        if enabled { gateway.reachable = true }
        gateway.updatedAt = Timestamp.now(after: gateway.updatedAt)
        let finalGateway = gateway
        try await write { try await store.updateGateway(finalGateway, items: nil) }
        if !enabled { await upstream.release(gatewayID: id) }
        await committed()
        return gateway
    }

    /// Removes an upstream and everything discovered on it.
    public func deleteGateway(id: String) async throws {
        let existed = try await write { try await store.deleteGateway(id: id) }
        guard existed else { throw RegistryError.notFound("Gateway", id) }
        await upstream.release(gatewayID: id)
        await committed()
    }

    func discover(_ target: UpstreamTarget) async throws -> DiscoveredCatalog {
        do {
            return try await upstream.discover(target, timeout: discoveryTimeout)
        } catch let error as UpstreamError {
            await upstream.release(gatewayID: target.gatewayID)
            if error.code == .blocked {
                throw RegistryError.invalid("url", "the address is not allowed: \(error.message)")
            }
            throw RegistryError(.upstreamFailed, "Could not register the upstream at \(target.url): \(error.message)")
        } catch {
            await upstream.release(gatewayID: target.gatewayID)
            throw RegistryError(.upstreamFailed, "Could not register the upstream at \(target.url)")
        }
    }

    /// Builds item rows, keeping the ids of items that existed before (so virtual server
    /// memberships survive a refresh) and refusing qualified names already used elsewhere.
    func makeItems(
        for gateway: GatewayRecord,
        discovered: DiscoveredCatalog,
        previous: CatalogSnapshot?,
        snapshot: CatalogSnapshot
    ) throws -> GatewayItems {
        let now = Timestamp.now()
        let tools: [ToolRecord] = try namedItems(
            discovered.tools,
            kind: "Tool",
            gateway: gateway,
            previous: previous?.contents.tools ?? [],
            taken: snapshot.contents.tools,
            now: now
        )
        let prompts: [PromptRecord] = try namedItems(
            discovered.prompts,
            kind: "Prompt",
            gateway: gateway,
            previous: previous?.contents.prompts ?? [],
            taken: snapshot.contents.prompts,
            now: now
        )
        let oldResources = Dictionary(
            (previous?.contents.resources ?? []).filter { $0.gatewayID == gateway.id }.map { ($0.uri, $0) },
            uniquingKeysWith: { first, _ in first }
        )
        var seen = Set<String>()
        var resources: [ResourceRecord] = []
        for definition in discovered.resources {
            guard let uri = definition["uri"]?.stringValue, !uri.isEmpty, seen.insert(uri).inserted,
                admits(definition, kind: "resource", name: uri, gateway: gateway)
            else { continue }
            if let problem = resourceProblem(definition) {
                refuse("resource", uri, problem, gateway: gateway)
                continue
            }
            let old = oldResources[uri]
            resources.append(
                ResourceRecord(
                    id: old?.id ?? Self.newID(),
                    gatewayID: gateway.id,
                    uri: uri,
                    definition: definition,
                    enabled: old?.enabled ?? true,
                    createdAt: old?.createdAt ?? now
                )
            )
        }
        var templates: [ResourceTemplateRecord] = []
        seen.removeAll()
        for definition in discovered.resourceTemplates {
            guard let template = definition["uriTemplate"]?.stringValue, seen.insert(template).inserted,
                admits(definition, kind: "resource template", name: template, gateway: gateway)
            else { continue }
            templates.append(
                ResourceTemplateRecord(
                    id: Self.newID(),
                    gatewayID: gateway.id,
                    uriTemplate: template,
                    definition: definition,
                    createdAt: now
                )
            )
        }
        return GatewayItems(tools: tools, resources: resources, resourceTemplates: templates, prompts: prompts)
    }

    /// Tool or prompt rows for `definitions`: named `<slug><sep><name>`, keeping the ids of rows
    /// that existed before, refusing a qualified name another gateway already uses.
    func namedItems<Item: NamedItemRecord>(
        _ definitions: [JSONObject],
        kind: String,
        gateway: GatewayRecord,
        previous: [Item],
        taken: [Item],
        now: Timestamp
    ) throws -> [Item] {
        let old = Dictionary(
            previous.filter { $0.gatewayID == gateway.id }.map { ($0.originalName, $0) },
            uniquingKeysWith: { first, _ in first }
        )
        let takenNames = Set(taken.filter { $0.gatewayID != gateway.id }.map(\.name))
        var items: [Item] = []
        var seen = Set<String>()
        for definition in definitions {
            guard let original = definition["name"]?.stringValue, !original.isEmpty, seen.insert(original).inserted,
                admits(definition, kind: kind.lowercased(), name: original, gateway: gateway)
            else { continue }
            if let problem = rules.toolNameProblem(original).map({ "name \($0)" }) ?? textProblem(definition) {
                refuse(kind.lowercased(), original, problem, gateway: gateway)
                continue
            }
            let name = naming.qualifiedName(gatewaySlug: gateway.slug, originalName: original)
            if takenNames.contains(name) {
                throw RegistryError(
                    .conflict,
                    "\(kind) name '\(name)' is already used by another gateway",
                    field: "name"
                )
            }
            let existing = old[original]
            items.append(
                Item(
                    id: existing?.id ?? Self.newID(),
                    gatewayID: gateway.id,
                    originalName: original,
                    name: name,
                    definition: definition,
                    enabled: existing?.enabled ?? true,
                    createdAt: existing?.createdAt ?? now
                )
            )
        }
        return items
    }

    /// Whether an item listed by an upstream may enter the catalog as far as federation goes: not
    /// one that came through this gateway (a peer listing our own items back), not one further
    /// away than a call may travel. Leaving these out is routine between peers, so it is logged
    /// at debug level only.
    func admits(_ definition: JSONObject, kind: String, name: String, gateway: GatewayRecord) -> Bool {
        guard let problem = federation.importProblem(definition) else { return true }
        logger.debug(
            "federated item not imported",
            metadata: [
                "gateway.id": .string(gateway.id), "item.kind": .string(kind),
                "item.name": .string(String(name.prefix(200))), "reason": .string(problem),
            ]
        )
        return false
    }

    /// Refuses to register this gateway (or a node of its own cluster) as its own upstream.
    func checkNotSelf(_ discovered: DiscoveredCatalog, url: String) throws {
        guard !federation.gatewayID.isEmpty,
            Federation.peerGatewayID(in: discovered.capabilities) == federation.gatewayID
        else { return }
        var error = RegistryError.invalid(
            "url",
            "\(url) is this gateway itself (gateway id \(federation.gatewayID)); a gateway cannot federate with itself"
        )
        error.isSelfRegistration = true
        throw error
    }

    /// Why a discovered item's title or description keeps it out of the catalog, or `nil`.
    func textProblem(_ definition: JSONObject) -> String? {
        for field in ["title", "description"] {
            guard let text = definition[field]?.stringValue, let problem = rules.descriptionProblem(text) else {
                continue
            }
            return "\(field) \(problem)"
        }
        return nil
    }

    func resourceProblem(_ definition: JSONObject) -> String? {
        if let name = definition["name"]?.stringValue, let markup = ValidationRules.dangerousMarkup(in: name) {
            return "name must not contain markup that runs script (\(markup))"
        }
        if let mimeType = definition["mimeType"]?.stringValue, !rules.allows(mimeType: mimeType) {
            return "MIME type \(mimeType) is not allowed (VALIDATION_ALLOWED_MIME_TYPES)"
        }
        return textProblem(definition)
    }

    /// Logs a discovered item left out of the catalog; the rest of the upstream is still served.
    func refuse(_ kind: String, _ name: String, _ problem: String, gateway: GatewayRecord) {
        logger.warning(
            "discovered item refused",
            metadata: [
                "gateway.id": .string(gateway.id), "item.kind": .string(kind),
                "item.name": .string(String(name.prefix(200))),
                "reason": .string(problem),
            ]
        )
    }

    // MARK: - Virtual servers

    /// Creates a virtual server from items that exist.
    public func createServer(_ input: ServerInput) async throws -> VirtualServerRecord {
        let snapshot = catalog.snapshot
        guard let name = input.name else { throw RegistryError.invalid("name", "is required") }
        if snapshot.server(named: name) != nil {
            throw RegistryError(.conflict, "A server named '\(name)' already exists", field: "name")
        }
        try checkMembers(input, snapshot: snapshot)
        let now = Timestamp.now()
        let server = VirtualServerRecord(
            id: Self.newID(),
            name: name,
            description: input.description ?? nil,
            icon: input.icon ?? nil,
            toolIDs: input.toolIDs ?? [],
            resourceIDs: input.resourceIDs ?? [],
            promptIDs: input.promptIDs ?? [],
            enabled: true,
            createdAt: now,
            updatedAt: now
        )
        try await write { try await store.insertServer(server) }
        await committed()
        return server
    }

    /// Updates a virtual server.
    public func updateServer(id: String, _ input: ServerInput) async throws -> VirtualServerRecord {
        let snapshot = catalog.snapshot
        guard var server = snapshot.serversByID[id] else { throw RegistryError.notFound("Server", id) }
        if let name = input.name, name != server.name {
            if snapshot.server(named: name, except: id) != nil {
                throw RegistryError(.conflict, "A server named '\(name)' already exists", field: "name")
            }
            server.name = name
        }
        try checkMembers(input, snapshot: snapshot)
        if let description = input.description { server.description = description }
        if let icon = input.icon { server.icon = icon }
        if let tools = input.toolIDs { server.toolIDs = tools }
        if let resources = input.resourceIDs { server.resourceIDs = resources }
        if let prompts = input.promptIDs { server.promptIDs = prompts }
        server.updatedAt = Timestamp.now()
        let finalServer = server
        try await write { try await store.updateServer(finalServer) }
        await committed()
        return server
    }

    /// Enables or disables a virtual server.
    public func setServerEnabled(id: String, enabled: Bool) async throws -> VirtualServerRecord {
        guard var server = catalog.snapshot.serversByID[id] else { throw RegistryError.notFound("Server", id) }
        server.enabled = enabled
        server.updatedAt = Timestamp.now()
        let finalServer = server
        try await write { try await store.updateServer(finalServer) }
        await committed()
        return server
    }

    /// Deletes a virtual server.
    public func deleteServer(id: String) async throws {
        let existed = try await write { try await store.deleteServer(id: id) }
        guard existed else { throw RegistryError.notFound("Server", id) }
        await committed()
    }

    func checkMembers(_ input: ServerInput, snapshot: CatalogSnapshot) throws {
        for id in input.toolIDs ?? [] where snapshot.toolsByID[id] == nil {
            throw RegistryError.invalid("associated_tools", "unknown tool id '\(id)'")
        }
        for id in input.resourceIDs ?? [] where snapshot.resourcesByID[id] == nil {
            throw RegistryError.invalid("associated_resources", "unknown resource id '\(id)'")
        }
        for id in input.promptIDs ?? [] where snapshot.promptsByID[id] == nil {
            throw RegistryError.invalid("associated_prompts", "unknown prompt id '\(id)'")
        }
    }

    func write<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as StoreError where error.code == .conflict {
            throw RegistryError(.conflict, error.message)
        } catch let error as StoreError where error.code == .fenced {
            throw error
        } catch let error as StoreError {
            logger.error("store write failed", metadata: ["error": "\(error)"])
            throw RegistryError(.storeUnavailable, "The store could not save the change")
        }
    }
}

/// The registry's commit hooks (the registry is a value; they are shared by its copies).
final class CommitHooks: Sendable {
    private let hooks = Mutex<[Registry.CommitHook]>([])

    func add(_ hook: @escaping Registry.CommitHook) { hooks.withLock { $0.append(hook) } }

    var all: [Registry.CommitHook] { hooks.withLock { $0 } }
}
