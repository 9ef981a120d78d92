import Synchronization

/// Holds the current ``CatalogSnapshot``; readers take it without waiting, writers swap it whole
/// and observers hear of every swap.
///
/// Loads from the store may finish out of order (a PostgreSQL pool runs them side by side), so a
/// load takes a ticket before it reads and its snapshot is installed only if no load that started
/// later has been installed already: a slow load begun before a write never hides that write.
public final class CatalogHolder: Sendable {
    /// Called with the snapshot replaced and its replacement.
    public typealias Observer = @Sendable (_ old: CatalogSnapshot, _ new: CatalogSnapshot) -> Void

    /// Orders the loads that produce snapshots; see ``ticket()``.
    public struct Ticket: Sendable, Comparable {
        let value: UInt64
        public static func < (lhs: Ticket, rhs: Ticket) -> Bool { lhs.value < rhs.value }
    }

    private let current: Mutex<(snapshot: CatalogSnapshot, ticket: Ticket)>
    private let issued = Atomic<UInt64>(0)
    private let observers = Mutex<[Observer]>([])

    public init(_ snapshot: CatalogSnapshot = .empty) {
        self.current = Mutex((snapshot, Ticket(value: 0)))
    }

    /// The snapshot in force now.
    public var snapshot: CatalogSnapshot { current.withLock { $0.snapshot } }

    /// Take one before reading the store for a snapshot to install with ``replace(with:ticket:)``.
    public func ticket() -> Ticket {
        Ticket(value: issued.wrappingAdd(1, ordering: .relaxed).newValue)
    }

    /// Replaces the snapshot (then tells the observers) unless a snapshot read after `ticket` was
    /// taken is in force already; returns whether it was installed.
    @discardableResult
    public func replace(with snapshot: CatalogSnapshot, ticket: Ticket) -> Bool {
        let old: CatalogSnapshot? = current.withLock { current in
            guard current.ticket < ticket else { return nil }
            defer { current = (snapshot, ticket) }
            return current.snapshot
        }
        guard let old else { return false }
        for observer in observers.withLock({ $0 }) { observer(old, snapshot) }
        return true
    }

    /// Replaces the snapshot with one built now, from nothing read earlier.
    public func replace(with snapshot: CatalogSnapshot) {
        replace(with: snapshot, ticket: ticket())
    }

    /// Calls `observer` after every replacement.
    public func observe(_ observer: @escaping Observer) {
        observers.withLock { $0.append(observer) }
    }
}
