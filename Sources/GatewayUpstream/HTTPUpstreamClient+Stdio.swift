import GatewayCore
import NIOCore
import Synchronization

/// Stdio upstreams, served by the same client: one supervised process per gateway, started on
/// first use and run in the client's service task group.
extension HTTPUpstreamClient {
    /// The gateway's process, started if it is not running.
    func stdioUpstream(for target: UpstreamTarget) throws -> StdioUpstream {
        guard let command = target.command else {
            throw UpstreamError(.protocolViolation, "a STDIO upstream needs a command")
        }
        var stdioOptions = StdioUpstream.Options()
        stdioOptions.inheritedEnvironment = options.stdioInheritedEnvironment
        let (process, started) = processes.withLock { processes -> (StdioUpstream, Bool) in
            if let existing = processes[target.gatewayID], existing.command == command { return (existing, false) }
            let process = StdioUpstream(
                target: target,
                command: command,
                options: stdioOptions,
                clientInfo: ["name": .string(options.clientName), "version": .string(options.clientVersion)],
                logger: logger,
                makeID: { [weak self] in self?.makeID() ?? JSONRPCID(0) },
                emit: { [weak self] event in self?.eventsContinuation.yield(event) }
            )
            let replaced = processes.updateValue(process, forKey: target.gatewayID)
            replaced?.close()
            return (process, true)
        }
        if started {
            readerJobsContinuation.yield {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await process.supervise() }
                    group.addTask { await process.closed() }
                    await group.next()
                    group.cancelAll()
                }
            }
        }
        return process
    }

    func stdioHandshake(_ target: UpstreamTarget, deadline: NIODeadline) async throws -> StdioUpstream.Handshake {
        try await stdioUpstream(for: target).ready(deadline: deadline)
    }

    func stdioSend(
        _ target: UpstreamTarget,
        method: String,
        params: [UInt8]?,
        deadline: NIODeadline,
        relay: (any UpstreamCallRelay)?
    ) async throws -> UpstreamReply {
        let message = try await stdioUpstream(for: target).request(
            method: method,
            params: params,
            deadline: deadline,
            relay: relay
        )
        return Self.reply(from: message)
    }

    /// Stops the gateway's process, if it has one.
    func releaseProcess(gatewayID: String) {
        processes.withLock { $0.removeValue(forKey: gatewayID) }?.close()
    }
}
