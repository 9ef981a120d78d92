import GatewayCore

/// What the session tests build their engines from.
enum Fixtures {
    static let now = Timestamp(millisecondsSince1970: 1_700_000_000_000)

    /// The streamable HTTP upstream `a`, reachable.
    static let gateway = GatewayRecord(
        id: "a",
        name: "a",
        slug: "a",
        url: "http://127.0.0.1:1/mcp",
        description: nil,
        transport: .streamableHTTP,
        enabled: true,
        reachable: true,
        capabilities: [:],
        protocolVersion: "2025-11-25",
        auth: .none,
        createdAt: now,
        updatedAt: now,
        lastSeen: nil
    )

    /// A small in-memory replay log (60 s retention).
    static func eventLog() -> InMemorySessionEventLog {
        InMemorySessionEventLog(
            limits: .init(
                eventsPerSession: 100,
                bytesPerSession: 1 << 20,
                totalBytes: 1 << 24,
                maximumSessions: 100,
                retention: .seconds(60)
            )
        )
    }
}
