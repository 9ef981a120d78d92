import GatewayCore
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// The TLS client context for `https` upstreams, made once on first use: making it reads the
/// trust roots from disk, so it is done on NIO's blocking-work pool, not on an event loop.
final class UpstreamTLSContext: Sendable {
    let configuration: TLSConfiguration
    private let context = Mutex<NIOSSLContext?>(nil)

    /// - Parameter configuration: certificate verification must stay on (full verification
    ///   against the URL's host name is what the default client configuration does).
    init(configuration: TLSConfiguration) {
        self.configuration = configuration
    }

    /// The shared context (made on the first call; concurrent first calls may each make one,
    /// and one of them is kept).
    func get() async throws -> NIOSSLContext {
        if let made = context.withLock({ $0 }) { return made }
        let configuration = configuration
        let made: NIOSSLContext
        do {
            made = try await NIOThreadPool.singleton.runIfActive { try NIOSSLContext(configuration: configuration) }
        } catch {
            throw UpstreamError(.unreachable, "cannot set up TLS")
        }
        return context.withLock { context in
            if let kept = context { return kept }
            context = made
            return made
        }
    }

    /// The default for upstreams: system trust roots, full certificate verification, HTTP/1.1.
    ///
    /// On close the gateway sends `close_notify` and waits only briefly for the upstream's: it is
    /// done with the connection, and a stream's channel reads nothing more once its reader is gone
    /// (NIOAsyncChannel), so the default 5 s would hold every closing SSE stream for 5 s.
    static func defaultConfiguration() -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.applicationProtocols = ["http/1.1"]
        configuration.shutdownTimeout = .milliseconds(100)
        return configuration
    }
}
