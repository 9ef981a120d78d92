import Synchronization

/// Holds the current ``CatalogSnapshot``; readers take it without waiting, writers swap it whole.
public final class CatalogHolder: Sendable {
    private let current: Mutex<CatalogSnapshot>

    public init(_ snapshot: CatalogSnapshot = .empty) {
        self.current = Mutex(snapshot)
    }

    /// The snapshot in force now.
    public var snapshot: CatalogSnapshot { current.withLock { $0 } }

    /// Replaces the snapshot.
    public func replace(with snapshot: CatalogSnapshot) {
        current.withLock { $0 = snapshot }
    }
}
