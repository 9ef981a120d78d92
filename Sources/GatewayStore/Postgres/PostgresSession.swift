import GatewayCore
import Logging
import PostgresNIO
import Synchronization

/// One leased connection, as the store's operations use it: every query's rows are read to the
/// end (an unread result would hold up the next query on the connection).
struct PostgresSession: Sendable {
    let connection: PostgresConnection
    let logger: Logger

    /// Runs `query`; returns its rows.
    @discardableResult
    func run(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await connection.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
    }

    /// Runs `body` in a transaction opened by `begin`: committed when it returns, rolled back when
    /// it throws. A connection whose rollback fails is closed, so the pool never hands out a
    /// connection stuck in a transaction.
    func transaction<T>(
        _ begin: PostgresQuery = "BEGIN",
        _ body: (PostgresSession) async throws -> T
    ) async throws -> T {
        try await run(begin)
        do {
            let value = try await body(self)
            try await run("COMMIT")
            return value
        } catch {
            do {
                try await run("ROLLBACK")
            } catch {
                try? await connection.close()
            }
            throw error
        }
    }
}

/// The race between an operation waiting for a pooled connection and its deadline: exactly one
/// of them wins, so an operation that lost never runs after its caller was told it failed.
final class LeaseDeadline: Sendable {
    private enum State { case waiting, leased, expired }
    private let state = Mutex(State.waiting)

    /// Whether the operation got its connection (errors before that are connection failures).
    var isLeased: Bool { state.withLock { $0 == .leased } }

    /// The operation got its connection; `false` if the deadline passed first.
    func claim() -> Bool {
        state.withLock { state in
            guard state == .waiting else { return false }
            state = .leased
            return true
        }
    }

    /// The deadline passed; `false` if the operation already has its connection.
    func expire() -> Bool {
        state.withLock { state in
            guard state == .waiting else { return false }
            state = .expired
            return true
        }
    }
}
