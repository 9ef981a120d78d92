import GatewayCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Opens HTTP/1.1 connections to upstreams, always to the address the SSRF guard has just
/// checked, never to a second resolution of the name: a name that re-binds to a refused address
/// after registration is refused on the next connection. `https` endpoints get TLS with SNI and
/// certificate verification against the URL's host name (not the address connected to).
///
/// The TCP connect and the TLS handshake both finish by the earlier of the caller's deadline
/// and `connectTimeout` from now.
struct UpstreamConnector: Sendable {
    let group: any EventLoopGroup
    let addressGuard: UpstreamAddressGuard
    let connectTimeout: TimeAmount
    let tls: UpstreamTLSContext

    /// Connects to `endpoint`, sets up TLS (when the endpoint is `https`) and the HTTP/1.1 client
    /// codec, then lets `addHandlers` finish the pipeline (on the channel's event loop) and
    /// returns what it returns.
    func connect<Output: Sendable>(
        _ endpoint: HTTP1Endpoint,
        deadline: NIODeadline,
        addHandlers: @escaping @Sendable (any Channel) throws -> Output
    ) async throws -> Output {
        let addresses = try await addressGuard.addresses(host: endpoint.host, port: endpoint.port)
        let sslContext = endpoint.tls ? try await tls.get() : nil
        let connectDeadline = min(deadline, .now() + connectTimeout)
        let serverName = endpoint.serverName
        do {
            let (output, handshake) = try await ClientBootstrap(group: group.any())
                .connectTimeout(max(connectDeadline - .now(), .milliseconds(1)))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(to: addresses[0]) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let handshake = try sslContext.map { context in
                            try Self.addTLS(context, serverName: serverName, deadline: connectDeadline, to: channel)
                        }
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return (try addHandlers(channel), handshake)
                    }
                }
            try await handshake?.get()
            return output
        } catch ChannelError.connectTimeout {
            throw UpstreamError(.timeout, "connecting took too long")
        } catch let error as UpstreamError {
            throw error
        } catch {
            throw UpstreamError(.unreachable, "cannot connect")
        }
    }

    /// Adds the TLS client handler and a waiter for its handshake; returns the handshake's
    /// completion.
    static func addTLS(
        _ context: NIOSSLContext,
        serverName: String?,
        deadline: NIODeadline,
        to channel: any Channel
    ) throws -> EventLoopFuture<Void> {
        let handler = try NIOSSLClientHandler(context: context, serverHostname: serverName)
        let waiter = TLSHandshakeWaiter(promise: channel.eventLoop.makePromise(), deadline: deadline)
        do {
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.pipeline.syncOperations.addHandler(waiter)
        } catch {
            waiter.promise.fail(error)
            throw error
        }
        return waiter.promise.futureResult
    }
}
