import GatewayCore
import Synchronization

/// The ids of revoked tokens that have not expired yet. Checked on every request (a dictionary
/// lookup); filled from the store at start and on every revocation.
public final class TokenRevocations: Sendable {
    private let revoked = Mutex<[String: Timestamp]>([:])

    public init() {}

    /// Refuses `tokenID` until `expiresAt` (after which the token is refused as expired anyway).
    public func revoke(_ tokenID: String, until expiresAt: Timestamp) {
        let now = Timestamp.now()
        revoked.withLock { revoked in
            if revoked.count >= 1024 { revoked = revoked.filter { $0.value > now } }
            revoked[tokenID] = expiresAt
        }
    }

    /// Adds every revocation in `list` (at start, or after missing announcements); returns
    /// whether any of them was not known yet.
    @discardableResult
    public func load(_ list: [TokenRevocation]) -> Bool {
        var added = false
        for revocation in list where !isRevoked(revocation.tokenID) {
            revoke(revocation.tokenID, until: revocation.expiresAt)
            added = true
        }
        return added
    }

    public func isRevoked(_ tokenID: String) -> Bool {
        revoked.withLock { $0[tokenID] != nil }
    }
}
