import GatewayCore
import NIOCore

/// Runs `body`, failing with a timeout when it has not finished by `deadline`. AsyncHTTPClient's
/// own deadline stops at the response head; this one also bounds reading the body.
func withDeadline<T: Sendable>(
    _ deadline: NIODeadline,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            let remaining = deadline - NIODeadline.now()
            if remaining.nanoseconds > 0 { try await Task.sleep(nanoseconds: UInt64(remaining.nanoseconds)) }
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw UpstreamError(.timeout, "no answer before the deadline")
        }
        return value
    }
}
