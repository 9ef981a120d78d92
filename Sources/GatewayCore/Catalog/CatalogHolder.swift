import Synchronization

/// Holds the current ``CatalogSnapshot``; readers take it without waiting, writers swap it whole
/// and observers hear of every swap.
public final class CatalogHolder: Sendable {
    /// Called with the snapshot replaced and its replacement.
    public typealias Observer = @Sendable (_ old: CatalogSnapshot, _ new: CatalogSnapshot) -> Void

    private let current: Mutex<CatalogSnapshot>
    private let observers = Mutex<[Observer]>([])

    public init(_ snapshot: CatalogSnapshot = .empty) {
        self.current = Mutex(snapshot)
    }

    /// The snapshot in force now.
    public var snapshot: CatalogSnapshot { current.withLock { $0 } }

    /// Replaces the snapshot, then tells the observers.
    public func replace(with snapshot: CatalogSnapshot) {
        let old = current.withLock { current in
            defer { current = snapshot }
            return current
        }
        for observer in observers.withLock({ $0 }) { observer(old, snapshot) }
    }

    /// Calls `observer` after every replacement.
    public func observe(_ observer: @escaping Observer) {
        observers.withLock { $0.append(observer) }
    }
}
