/// The leader lease's term logic, without Redis and without a clock of its own: each round
/// starts with ``startRound(at:)``, which says what to ask Redis (or the store), and each answer
/// is fed back as an event. ``LeaderLease`` runs it against Redis; tests drive it with a manual
/// instant.
///
/// A term is believed only until the last successful renewal's *start* plus the TTL, less a
/// margin of a tenth of the TTL for clock drift, so a paused node stops acting as leader before
/// anyone else can take over. The store's epoch (the floor a new term must start above) is read
/// at most every `floorMaximumAge`.
struct LeaseStateMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// A term this node holds.
    struct Term: Sendable, Equatable {
        /// `<node>|<epoch>|<since>`, as stored under the lease key.
        var value: String
        var epoch: Int64
        var since: Int64
        var validUntil: Instant
    }

    /// What a round asks of Redis or the store.
    enum Action: Equatable {
        /// Extend the held lease (compare-and-extend on `value`).
        case renew(value: String)
        /// Take the lease if it is free, with an epoch above `floor`.
        case acquire(floor: Int64)
        /// Read the store's newest epoch first, then ``floorRead(_:at:)``.
        case readFloor
        /// Nothing to do this round (no floor could be read).
        case none
    }

    /// Where a round left this node.
    struct Standing: Equatable {
        var leading: Bool
        /// This round started a term (claim it in the store before any leader work).
        var newTerm: Bool
    }

    let ttl: Duration
    let floorMaximumAge: Duration
    private(set) var term: Term?
    private var floor: (value: Int64, at: Instant)?

    init(ttl: Duration, floorMaximumAge: Duration = .seconds(10)) {
        self.ttl = ttl
        self.floorMaximumAge = floorMaximumAge
    }

    /// How much earlier than Redis this node stops believing in its term.
    var margin: Duration { ttl / 10 }

    /// The current term's epoch while it is valid.
    func epoch(at now: Instant) -> Int64? {
        guard let term, now < term.validUntil else { return nil }
        return term.epoch
    }

    /// A round starts: renew a held term, or seek one (reading the floor when it is stale).
    func startRound(at now: Instant) -> Action {
        if let term { return .renew(value: term.value) }
        if let floor, floor.at.duration(to: now) < floorMaximumAge { return .acquire(floor: floor.value) }
        return .readFloor
    }

    /// The store's epoch was read (`nil`: it could not be): seek a term above it, or not at all.
    mutating func floorRead(_ value: Int64?, at now: Instant) -> Action {
        guard let value else { return .none }
        floor = (value, now)
        return .acquire(floor: value)
    }

    /// Redis answered a renewal begun at `started`: extended, or the lease is someone else's.
    mutating func renewed(_ extended: Bool, startedAt started: Instant) -> Standing {
        guard extended else {
            term = nil
            return Standing(leading: false, newTerm: false)
        }
        let validUntil = started.advanced(by: ttl - margin)
        term?.validUntil = validUntil
        return Standing(leading: term != nil, newTerm: false)
    }

    /// A renewal's outcome is unknown (Redis did not answer): the term is believed until it runs
    /// out, not longer.
    mutating func renewalFailed(at now: Instant) {
        if let validUntil = term?.validUntil, now >= validUntil { term = nil }
    }

    /// Redis answered an acquisition begun at `started`: the new term's value, or `nil` when the
    /// lease is taken.
    mutating func acquired(_ value: String?, startedAt started: Instant) -> Standing {
        guard let value, let parsed = Self.parse(value) else { return Standing(leading: false, newTerm: false) }
        term = Term(
            value: value,
            epoch: parsed.epoch,
            since: parsed.since,
            validUntil: started.advanced(by: ttl - margin)
        )
        return Standing(leading: true, newTerm: true)
    }

    /// Gives the term up; returns the value to delete from Redis, if one was held.
    mutating func release() -> String? {
        defer { term = nil }
        return term?.value
    }

    /// Reads the store's epoch afresh next round (a term was refused there).
    mutating func forgetFloor() {
        floor = nil
    }

    /// `<node>|<epoch>|<since>`.
    static func parse(_ value: String) -> (id: String, epoch: Int64, since: Int64)? {
        let parts = value.split(separator: "|")
        guard parts.count == 3, let epoch = Int64(parts[1]), let since = Int64(parts[2]) else { return nil }
        return (String(parts[0]), epoch, since)
    }
}
