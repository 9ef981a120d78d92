import GatewayHTTPFraming
import Synchronization

/// How many requests and connections one token subject has open at once
/// (`MAX_CONCURRENT_REQUESTS_PER_CLIENT`): HTTP requests and streams (through
/// ``ConcurrencyLimitMiddleware``) and WebSocket connections alike, so one token cannot fill a
/// node's tables and lock everyone else out.
public final class ClientSlots: Sendable {
    /// Most open at once per subject.
    public let limit: Int
    private let bySubject = Mutex<[String: Int]>([:])

    public init(limit: Int) {
        self.limit = limit
    }

    /// Takes a slot for `subject`, or `nil` when it holds `limit` already. The slot is given back
    /// when the returned clean-up runs (or is released unrun).
    func acquire(_ subject: String) -> ResponseCleanup? {
        let admitted = bySubject.withLock { counts in
            let open = counts[subject, default: 0]
            guard open < limit else { return false }
            counts[subject] = open + 1
            return true
        }
        guard admitted else { return nil }
        return ResponseCleanup { [self] _ in
            bySubject.withLock { counts in
                let left = (counts[subject] ?? 1) - 1
                counts[subject] = left > 0 ? left : nil
            }
        }
    }

    /// How many slots `subject` holds.
    public func open(_ subject: String) -> Int { bySubject.withLock { $0[subject] ?? 0 } }
}
