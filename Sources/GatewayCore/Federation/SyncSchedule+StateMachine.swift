/// When the leader re-lists each upstream and peer (federation sync): every `interval` (per
/// upstream), at the start of each leader term (a new leader does not know what its predecessor
/// missed, so it catches up on everything), and shortly after any node heard a `list_changed`.
///
/// Requests for one upstream are merged: those that arrive within `settle` of the first (every
/// node of a cluster hears the same announcement at about the same time) make one listing, and
/// those that arrive while a listing runs make exactly one more. Listings of one upstream never
/// overlap.
///
/// A pure state machine: the owner feeds it the time and the leader's epoch, starts the listings
/// ``next(now:upstreams:)`` returns, and reports each one's end with ``finished(_:now:)``.
public struct SyncSchedule<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// An upstream the leader may sync: its id and its interval.
    public struct Upstream: Sendable, Hashable {
        public var id: String
        public var interval: Duration

        public init(id: String, interval: Duration) {
            self.id = id
            self.interval = interval
        }
    }

    enum Phase: Sendable, Hashable {
        /// Asked for; starts at `until` unless a listing starts sooner.
        case settling(until: Instant)
        /// Listing now, for the term `epoch`; `again` when another request came meanwhile.
        case running(again: Bool, epoch: Int64)
    }

    /// How long a request waits for others to join it.
    public let settle: Duration
    /// Most listings at once (a new term lists every upstream: not all in the same instant).
    public let maximumRunning: Int
    private(set) var phases: [String: Phase] = [:]
    private(set) var lastSync: [String: Instant] = [:]
    /// The leader term the schedule belongs to; `nil` when this node does not lead.
    public private(set) var epoch: Int64?

    public init(settle: Duration = .milliseconds(250), maximumRunning: Int = 8) {
        self.settle = settle
        self.maximumRunning = max(1, maximumRunning)
    }

    /// Follows the node's leadership. A new term forgets the old one's times, so every upstream
    /// is listed at once; losing the lead forgets everything. A listing of the old term that still
    /// runs is not started twice; its end is then ignored (its write was fenced off), and the new
    /// term lists that upstream at the next look.
    public mutating func lead(epoch: Int64?) {
        guard epoch != self.epoch else { return }
        self.epoch = epoch
        lastSync = [:]
        phases = phases.filter { if case .running = $0.value { true } else { false } }
    }

    /// A node heard that the upstream's lists changed.
    public mutating func requested(_ id: String, now: Instant) {
        guard epoch != nil else { return }
        switch phases[id] {
        case nil: phases[id] = .settling(until: now.advanced(by: settle))
        case .settling: return
        case .running(_, let epoch): phases[id] = .running(again: true, epoch: epoch)
        }
    }

    /// The upstreams to list now, each marked running: settled requests, and upstreams whose
    /// interval passed (or that this term has not listed yet), at most ``maximumRunning`` at once
    /// (the others wait for a later look). `upstreams` are the ones enabled and reachable now;
    /// requests for others are dropped.
    public mutating func next(now: Instant, upstreams: [Upstream]) -> [String] {
        guard let epoch else { return [] }
        let known = Set(upstreams.map(\.id))
        var start: [String] = []
        for upstream in upstreams {
            switch phases[upstream.id] {
            case .running: continue
            case .settling(let until) where until <= now:
                start.append(upstream.id)
            case .settling, nil:
                guard let last = lastSync[upstream.id] else {
                    start.append(upstream.id)
                    continue
                }
                if last.advanced(by: upstream.interval) <= now { start.append(upstream.id) }
            }
        }
        for id in phases.keys where !known.contains(id) {
            if case .settling = phases[id] { phases[id] = nil }
        }
        for id in lastSync.keys where !known.contains(id) { lastSync[id] = nil }
        let running = phases.values.filter { if case .running = $0 { true } else { false } }.count
        start = Array(start.prefix(max(0, maximumRunning - running)))
        for id in start { phases[id] = .running(again: false, epoch: epoch) }
        return start
    }

    /// A listing ended (whether or not it succeeded: a failing upstream is left to the health
    /// checks until its interval comes round again). Returns whether to list it again at once.
    public mutating func finished(_ id: String, now: Instant) -> Bool {
        guard case .running(let again, let term) = phases[id] else { return false }
        guard term == epoch else {
            // Begun in a term that ended: nothing it wrote counts; the current term (if any)
            // lists the upstream itself.
            phases[id] = nil
            return false
        }
        lastSync[id] = now
        if again {
            phases[id] = .running(again: false, epoch: term)
            return true
        }
        phases[id] = nil
        return false
    }

    /// When ``next(now:upstreams:)`` may next have work, for the owner's timer: the soonest of
    /// the settling requests and the intervals.
    public func nextDeadline(upstreams: [Upstream]) -> Instant? {
        guard epoch != nil else { return nil }
        var soonest: Instant?
        func consider(_ instant: Instant) { soonest = soonest.map { min($0, instant) } ?? instant }
        for upstream in upstreams {
            switch phases[upstream.id] {
            case .running: continue
            case .settling(let until): consider(until)
            case nil: if let last = lastSync[upstream.id] { consider(last.advanced(by: upstream.interval)) }
            }
        }
        return soonest
    }
}
