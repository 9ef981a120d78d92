import GatewayCore

/// Rate limits applied to each frame of a connection-bound session (WebSocket), counted with
/// the subject's MCP requests over HTTP (`RATE_LIMIT_MCP_PER_MINUTE`).
public struct FrameRateLimit: Sendable {
    let counter: any RateCounter
    let perMinute: Int

    public init(counter: any RateCounter, perMinute: Int) {
        self.counter = counter
        self.perMinute = perMinute
    }

    /// The error to answer a frame with when `subject` is over its limit, or `nil`. A counter
    /// that cannot answer lets the frame through (as the HTTP limiter does).
    func refusal(subject: String, id: JSONRPCID?) async -> JSONRPCError? {
        guard let (count, resetIn) = try? await counter.hit("client:mcp:" + subject, window: .seconds(60)),
            count > perMinute
        else { return nil }
        let seconds = max(1, (resetIn + 999) / 1000)
        return JSONRPCError(
            code: .rateLimited,
            message: "Rate limit exceeded: \(perMinute) requests per minute; retry in \(seconds) s",
            id: id,
            data: ["retryAfter": .int(seconds)]
        )
    }
}

/// Per-client limits on connection-bound sessions (WebSocket; legacy SSE streams are HTTP
/// requests and go through the HTTP middlewares).
public struct ConnectionLimits: Sendable {
    /// Slots shared with the HTTP concurrency limit; `nil`: unlimited.
    public var slots: ClientSlots?
    /// Frame rate limits; `nil` when rate limiting is off.
    public var frames: FrameRateLimit?

    public init(slots: ClientSlots? = nil, frames: FrameRateLimit? = nil) {
        self.slots = slots
        self.frames = frames
    }
}
