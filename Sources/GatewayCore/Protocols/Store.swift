/// Durable state: the registry of upstreams, what was discovered on them, and virtual servers.
/// Implemented by the SQLite store (embedded default) and the PostgreSQL store (cluster mode).
///
/// Every write is atomic: it succeeds completely or changes nothing. No implementation may hold
/// a transaction open across an upstream call; discovery happens before the write.
public protocol Store: TokenStore, AuditStore {
    /// Brings the schema to the newest version. Safe to call from several processes at once.
    func migrate() async throws
    /// Checks that the store answers (for `/ready`).
    func ping() async throws
    /// Loads everything a catalog snapshot is built from.
    func loadCatalog() async throws -> CatalogContents

    /// Inserts a gateway with its discovered items.
    func insertGateway(_ gateway: GatewayRecord, items: GatewayItems) async throws
    /// Replaces a gateway's row and, when `items` is given, its discovered items.
    func updateGateway(_ gateway: GatewayRecord, items: GatewayItems?) async throws
    /// A leader-only update of a gateway (health checks, refresh from the upstream): applied only
    /// when `epoch` is at least the newest fencing epoch the store has seen, which it then records;
    /// otherwise throws `StoreError(.fenced)` and changes nothing.
    func updateGateway(_ gateway: GatewayRecord, items: GatewayItems?, fencingEpoch epoch: Int64) async throws
    /// Writes what was learned from the upstream itself (a refresh's items, reachability) unless
    /// the gateway was changed since `basis`, the `updatedAt` of the record the write was computed
    /// from: returns `false` and changes nothing when an operator deactivated, re-pointed or
    /// re-credentialed it meanwhile (or deleted it). With `fencingEpoch`, a stale leader's write is
    /// refused as by ``updateGateway(_:items:fencingEpoch:)``.
    func updateGateway(
        _ gateway: GatewayRecord,
        items: GatewayItems?,
        ifUnchangedSince basis: Timestamp,
        fencingEpoch epoch: Int64?
    ) async throws -> Bool
    /// The newest fencing epoch the store has seen (a new leader's term starts above it, so the
    /// store never mistakes it for a stale one, even after Redis lost its own counter).
    func fencingEpoch() async throws -> Int64
    /// Records `epoch` as the newest fencing epoch at the start of a leader's term, so a deposed
    /// leader's writes are refused from then on; `false` (nothing changed) when the store has
    /// already seen a newer one.
    func claimFencingEpoch(_ epoch: Int64) async throws -> Bool
    /// The deployment's federation gateway id: `proposal` if none was recorded yet (it is then
    /// recorded), otherwise the one recorded first, so every node of a cluster gets the same id.
    func gatewayIdentity(proposing proposal: String) async throws -> String
    /// Deletes a gateway and its items; returns whether it existed.
    func deleteGateway(id: String) async throws -> Bool

    /// Inserts a virtual server.
    func insertServer(_ server: VirtualServerRecord) async throws
    /// Replaces a virtual server.
    func updateServer(_ server: VirtualServerRecord) async throws
    /// Deletes a virtual server; returns whether it existed.
    func deleteServer(id: String) async throws -> Bool

    /// Releases connections.
    func close() async throws
}

/// The items belonging to one gateway, ready to be written.
public struct GatewayItems: Sendable {
    public var tools: [ToolRecord]
    public var resources: [ResourceRecord]
    public var resourceTemplates: [ResourceTemplateRecord]
    public var prompts: [PromptRecord]

    public init(
        tools: [ToolRecord],
        resources: [ResourceRecord],
        resourceTemplates: [ResourceTemplateRecord],
        prompts: [PromptRecord]
    ) {
        self.tools = tools
        self.resources = resources
        self.resourceTemplates = resourceTemplates
        self.prompts = prompts
    }
}

/// A store failure. The description never carries connection strings or SQL parameters.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in a bounded set of kinds.
    public struct Code: Sendable, Hashable {
        let rawValue: String
        public static let unavailable = Code(rawValue: "unavailable")
        public static let conflict = Code(rawValue: "conflict")
        public static let migrationFailed = Code(rawValue: "migration_failed")
        public static let corrupt = Code(rawValue: "corrupt")
        /// A leader-only write carried a fencing epoch older than one the store has already seen.
        public static let fenced = Code(rawValue: "fenced")
        /// A token was to be recorded under a parent token that has been revoked.
        public static let parentRevoked = Code(rawValue: "parent_revoked")
    }

    public var code: Code
    /// A message safe to log and to show an operator.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "store \(code.rawValue): \(message)" }
}
