import GatewayCore
import Logging
import ServiceLifecycle

/// The leader's peer registrations: keeps every `FEDERATION_PEERS` entry registered, and keeps the
/// addresses of `FEDERATION_DISCOVERY`'s DNS name registered as peers — new addresses registered,
/// vanished ones deactivated, returning ones activated — re-resolving at the start of each term
/// and every sync interval. A peer that cannot be registered (it is down, or refuses the token)
/// is tried again the next round. Two addresses that turn out to be one gateway (nodes of one
/// peer cluster) are registered once.
final class PeerDirectory: Service, Sendable {
    let peers: FederationPeers
    let coordinator: any Coordinator
    let registry: Registry
    let interval: Duration
    let logger: Logger
    /// Discovered names that are another address of a peer already registered (the leader's
    /// memory, so they are not registered and removed again every round).
    private let aliases = AsyncNames()
    /// The description of the registrations made for `FEDERATION_PEERS`.
    static let staticMarker = "FEDERATION_PEERS"

    init(peers: FederationPeers, coordinator: any Coordinator, registry: Registry, interval: Duration, logger: Logger) {
        self.peers = peers
        self.coordinator = coordinator
        self.registry = registry
        self.interval = interval
        self.logger = logger
    }

    func run() async throws {
        await whileLeading(coordinator, every: interval, round: { _ in await self.round() })
    }

    func round() async {
        for peer in peers.peers { await keep(name: peer.name, url: peer.url, description: Self.staticMarker) }
        guard let discovery = peers.discovery else { return }
        let addresses: [String]
        do {
            addresses = try await DNSAddresses.resolve(discovery.name)
        } catch {
            logger.warning(
                "peer discovery could not resolve its name; nothing changed",
                metadata: ["dns.name": .string(discovery.name), "error": "\(error)"]
            )
            return
        }
        let wanted = Set(addresses.map { discovery.gatewayName(address: $0) })
        await aliases.retain(wanted)
        for address in addresses where !(await aliases.contains(discovery.gatewayName(address: address))) {
            await keep(
                name: discovery.gatewayName(address: address),
                url: discovery.url(address: address),
                description: discovery.marker
            )
        }
        for gateway in registry.catalog.snapshot.contents.gateways
        where gateway.description == discovery.marker && gateway.enabled && !wanted.contains(gateway.name) {
            await retire(gateway, as: discovery.goneMarker, reason: "its address left \(discovery.name)")
            // Its other addresses were skipped as its aliases: let them register next round.
            await aliases.removeAll()
        }
    }

    /// Registers the peer `name` unless it is registered; activates it if discovery deactivated
    /// it (never one an operator deactivated); gives it the configured token again when that
    /// changed (a rotated Secret), and a static peer its configured URL.
    func keep(name: String, url: String, description: String) async {
        let token = peers.token(for: description == Self.staticMarker ? name : nil)
        let auth = token.map { UpstreamAuth(type: "bearer", headers: [("Authorization", "Bearer \($0)")]) } ?? .none
        if let existing = registry.catalog.snapshot.contents.gateways.first(where: { $0.name == name }) {
            if let gone = peers.discovery?.goneMarker, existing.description == gone {
                await revive(existing, as: description, url: url, auth: auth)
                return
            }
            // An operator's own registration of that name, or a peer an operator deactivated.
            guard existing.description == description, existing.enabled else { return }
            if existing.auth != auth || existing.url != url {
                await update(existing, GatewayUpdate(url: url, auth: auth))
            }
            return
        }
        let input = GatewayInput(name: name, url: url, transport: .streamableHTTP, description: description, auth: auth)
        do {
            let gateway = try await registry.registerGateway(input)
            if let peerID = gateway.peerGatewayID,
                let twin = registry.catalog.snapshot.contents.gateways.first(where: {
                    $0.id != gateway.id && $0.enabled && $0.peerGatewayID == peerID && $0.description == description
                })
            {
                try await registry.deleteGateway(id: gateway.id)
                await aliases.insert(name)
                logger.info(
                    "discovered address is another node of a registered peer",
                    metadata: ["gateway.name": .string(name), "peer.name": .string(twin.name)]
                )
                return
            }
            logger.notice(
                "peer registered",
                metadata: ["gateway.name": .string(name), "peer.id": .string(gateway.peerGatewayID ?? "none")]
            )
        } catch let error as RegistryError where error.isSelfRegistration {
            // A node of this very cluster behind the discovered name: not a peer, now or later.
            await aliases.insert(name)
            logger.info("discovered address is this gateway itself", metadata: ["gateway.name": .string(name)])
        } catch {
            logger.warning(
                "peer could not be registered; trying again next round",
                metadata: ["gateway.name": .string(name), "error": "\(error)"]
            )
        }
    }

    func update(_ gateway: GatewayRecord, _ change: GatewayUpdate) async {
        do {
            _ = try await registry.updateGateway(id: gateway.id, change)
            logger.notice("peer registration updated (url or token)", metadata: ["gateway.name": .string(gateway.name)])
        } catch {
            logger.warning(
                "peer registration could not be updated; trying again next round",
                metadata: ["gateway.name": .string(gateway.name), "error": "\(error)"]
            )
        }
    }

    /// Deactivates a discovered peer whose address left the name, marking it as discovery's doing
    /// (its description), so that discovery alone brings it back.
    func retire(_ gateway: GatewayRecord, as marker: String, reason: String) async {
        do {
            _ = try await registry.setGatewayEnabled(id: gateway.id, enabled: false)
            _ = try await registry.updateGateway(id: gateway.id, GatewayUpdate(description: .some(marker)))
            logger.notice(
                "discovered peer deactivated",
                metadata: ["gateway.name": .string(gateway.name), "reason": .string(reason)]
            )
        } catch {
            logger.warning(
                "discovered peer could not be deactivated",
                metadata: ["gateway.name": .string(gateway.name)]
            )
        }
    }

    /// Activates a peer discovery had deactivated, whose address is back.
    func revive(_ gateway: GatewayRecord, as marker: String, url: String, auth: UpstreamAuth) async {
        do {
            var change = GatewayUpdate(description: .some(marker))
            if gateway.auth != auth { change.auth = auth }
            if gateway.url != url { change.url = url }
            _ = try await registry.updateGateway(id: gateway.id, change)
            _ = try await registry.setGatewayEnabled(id: gateway.id, enabled: true)
            logger.notice(
                "discovered peer activated: its address is back",
                metadata: ["gateway.name": .string(gateway.name)]
            )
        } catch {
            logger.warning(
                "discovered peer could not be activated; trying again next round",
                metadata: ["gateway.name": .string(gateway.name), "error": "\(error)"]
            )
        }
    }
}

/// A set of names kept across rounds.
actor AsyncNames {
    private var names = Set<String>()

    func contains(_ name: String) -> Bool { names.contains(name) }

    func insert(_ name: String) { names.insert(name) }

    func removeAll() { names.removeAll() }

    /// Forgets the names not in `kept` (addresses that left).
    func retain(_ kept: Set<String>) { names.formIntersection(kept) }
}
