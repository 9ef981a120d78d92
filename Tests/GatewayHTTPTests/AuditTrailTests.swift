import GatewayAuth
import GatewayCore
import Logging
import Synchronization
import Testing

@testable import GatewayHTTP

/// An audit store that keeps what it is given, refusing the first `failures` batches.
final class RecordingAuditStore: AuditStore {
    let written = Mutex<[AuditEntry]>([])
    let failures: Mutex<Int>

    init(failures: Int = 0) { self.failures = Mutex(failures) }

    func appendAudit(_ entries: [AuditEntry]) async throws {
        let refuse = failures.withLock { left in
            defer { left = max(0, left - 1) }
            return left > 0
        }
        if refuse { throw StoreError(.unavailable, "store away") }
        written.withLock { $0 += entries }
    }

    func auditEntries(_ query: AuditQuery) async throws -> [AuditEntry] { written.withLock { $0 } }
    func pruneAudit(before cutoff: Timestamp) async throws -> Int { 0 }
}

@Suite struct AuditTrailTests {
    static func entry(_ action: String, at milliseconds: Int64) -> AuditEntry {
        AuditEntry(at: Timestamp(millisecondsSince1970: milliseconds), actor: "someone", action: action)
    }

    @Test func aFloodOfRefusedRequestsCannotPushOutWhatOperatorsDid() async {
        let store = RecordingAuditStore()
        let trail = AuditTrail(store: store, retention: .seconds(3600), capacity: 10, logger: Logger(label: "test"))
        trail.record(Self.entry("gateway.create", at: 1))
        for index in 0..<1000 { trail.record(Self.entry("auth.failure", at: 2 + Int64(index))) }
        trail.record(Self.entry("token.revoke", at: 5000))
        await trail.flush()
        let actions = store.written.withLock { $0.map(\.action) }
        #expect(actions.contains("gateway.create") && actions.contains("token.revoke"))
        #expect(actions.filter { $0 == "auth.failure" }.count == 10, "refusals have their own bound")
        #expect(actions.last == "token.revoke", "written in the order they happened")
    }

    @Test func aBatchTheStoreRefusesIsTriedOnceMore() async {
        let store = RecordingAuditStore(failures: 1)
        let trail = AuditTrail(store: store, retention: .seconds(3600), logger: Logger(label: "test"))
        trail.record(Self.entry("token.revoke", at: 1))
        await trail.flush()
        #expect(store.written.withLock { $0.map(\.action) } == ["token.revoke"])
    }
}
