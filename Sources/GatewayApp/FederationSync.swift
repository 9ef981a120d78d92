import GatewayCore
import Logging
import ServiceLifecycle
import Synchronization

/// The leader's federation sync: re-lists upstreams and peers on their interval, at the start of
/// each leader term, and when any node heard one announce a list change (``SyncSchedule`` decides
/// when). Each listing is written with the leader's fencing epoch, so a deposed leader's late
/// write is refused, and the write is announced so that every node reloads its snapshot.
/// Nodes that do not lead only pass on what they hear (``Coordinator/requestSync(gatewayID:)``).
final class FederationSync: Service, Sendable {
    let coordinator: any Coordinator
    let registry: Registry
    let defaultInterval: Duration
    let logger: Logger
    private let schedule: Mutex<SyncSchedule<ContinuousClock.Instant>>
    /// Longest wait between two looks at the schedule (catches new upstreams and terms).
    let tick: Duration

    init(
        coordinator: any Coordinator,
        registry: Registry,
        defaultInterval: Duration,
        settle: Duration = .milliseconds(250),
        tick: Duration = .seconds(1),
        logger: Logger
    ) {
        self.coordinator = coordinator
        self.registry = registry
        self.defaultInterval = defaultInterval
        self.tick = tick
        self.logger = logger
        self.schedule = Mutex(SyncSchedule(settle: settle))
    }

    func run() async throws {
        let requests = coordinator.syncRequests()
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await id in requests.cancelOnGracefulShutdown() {
                    self.schedule.withLock { $0.requested(id, now: .now) }
                }
            }
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let epoch = coordinator.leaderEpoch()
                let upstreams = syncable()
                let now = ContinuousClock.now
                let (start, deadline) = schedule.withLock { schedule in
                    schedule.lead(epoch: epoch)
                    return (schedule.next(now: now, upstreams: upstreams), schedule.nextDeadline(upstreams: upstreams))
                }
                if let epoch {
                    for id in start { group.addTask { await self.sync(id, epoch: epoch) } }
                }
                let wait = deadline.map { min(tick, max(.milliseconds(20), now.duration(to: $0))) } ?? tick
                try? await Task.sleep(for: wait)
            }
            group.cancelAll()
        }
    }

    /// The upstreams the leader lists: enabled and reachable ones (an unreachable one is listed
    /// again by the health check as soon as it answers).
    func syncable() -> [SyncSchedule<ContinuousClock.Instant>.Upstream] {
        registry.catalog.snapshot.contents.gateways.filter { $0.enabled && $0.reachable }.map {
            .init(id: $0.id, interval: .seconds($0.syncInterval ?? Int(defaultInterval.components.seconds)))
        }
    }

    func sync(_ id: String, epoch: Int64) async {
        repeat {
            do {
                let written = try await registry.refreshGateway(id: id, fencingEpoch: epoch)
                logger.debug(
                    "upstream re-listed",
                    metadata: ["upstream.id": .string(id), "leader.epoch": "\(epoch)", "written": "\(written)"]
                )
            } catch let error as StoreError where error.code == .fenced {
                logger.warning("a newer leader took over; re-listing dropped", metadata: ["leader.epoch": "\(epoch)"])
            } catch {
                logger.warning(
                    "upstream lists could not be refreshed",
                    metadata: ["upstream.id": .string(id), "error": "\(error)"]
                )
            }
        } while schedule.withLock { $0.finished(id, now: .now) }
    }
}
