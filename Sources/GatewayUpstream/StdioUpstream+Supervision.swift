import GatewayCore
import Logging
import NIOCore
import Subprocess
import Synchronization
import SystemPackage

/// Starting, initializing, restarting and stopping the process.
extension StdioUpstream {
    /// Runs the process until ``close()``: restarts it with backoff when it exits, gives up after
    /// `maximumFailures` failed starts in a row.
    func supervise() async {
        var failures = 0
        while !isClosed, !Task.isCancelled {
            let started = ContinuousClock.now
            let outcome = await runOnce()
            let lived = ContinuousClock.now - started
            failEverything(UpstreamError(.unreachable, "the upstream process exited"))
            if isClosed || Task.isCancelled { return }
            failures = lived >= options.healthyRun ? 1 : failures + 1
            logger.warning(
                "stdio upstream stopped",
                metadata: [
                    "upstream.id": .string(target.gatewayID), "outcome": .string(outcome),
                    "failures": .stringConvertible(failures),
                ]
            )
            if failures >= options.maximumFailures {
                let reason = "the upstream process failed \(failures) times in a row (last: \(outcome))"
                giveUp(reason)
                emit(.health(gatewayID: target.gatewayID, reachable: false, reason: reason))
                return
            }
            var backoff = options.initialBackoff
            for _ in 1..<failures { backoff = min(backoff * 2, options.maximumBackoff) }
            try? await Task.sleep(for: backoff)
        }
    }

    /// One life of the process; returns how it ended.
    func runOnce() async -> String {
        let (outbound, writer) = AsyncStream.makeStream(
            of: [UInt8].self,
            bufferingPolicy: .bufferingOldest(options.writeQueue)
        )
        state.withLock { $0.writer = writer }
        var platform = PlatformOptions()
        platform.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: options.terminationGrace)]
        let executable: Executable =
            command.command.contains("/") ? .path(FilePath(command.command)) : .name(command.command)
        var environment: [Environment.Key: String] = [:]
        for (key, value) in options.inheritedEnvironment.merging(command.environment, uniquingKeysWith: { $1 }) {
            environment[Environment.Key(stringLiteral: key)] = value
        }
        let maximumLine = options.maximumLineBytes
        do {
            let result = try await run(
                executable,
                arguments: Arguments(command.arguments),
                environment: .custom(environment),
                platformOptions: platform,
                input: .inputWriter,
                output: .sequence,
                error: .sequence
            ) { execution in
                // Any child that fails ends this life of the process (the body throws, the process
                // is torn down, supervise counts a failure): a refused or timed-out initialize too.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await line in execution.standardError.strings(
                            bufferingPolicy: .maxLineLength(64 * 1024)
                        ) {
                            self.logger.info(
                                "stdio upstream: \(line)",
                                metadata: ["upstream.id": .string(self.target.gatewayID)]
                            )
                        }
                    }
                    group.addTask {
                        for await message in outbound { _ = try await execution.standardInputWriter.write(message) }
                        try await execution.standardInputWriter.finish()
                    }
                    group.addTask { try await self.handshake() }
                    group.addTask {
                        for try await line in execution.standardOutput.strings(
                            bufferingPolicy: .maxLineLength(maximumLine)
                        ) {
                            self.received(Array(line.utf8))
                        }
                        writer.finish()
                        throw StandardOutputClosed()
                    }
                    do {
                        while try await group.next() != nil {}
                    } catch is StandardOutputClosed {
                        // The process is ending: nothing else is worth waiting for.
                        group.cancelAll()
                    }
                }
            }
            return "\(result.terminationStatus)"
        } catch {
            writer.finish()
            return "\(error)"
        }
    }

    /// The process closed its standard output.
    struct StandardOutputClosed: Error {}

    /// initialize and notifications/initialized; the process is ready after it.
    func handshake() async throws {
        let params: JSONValue = [
            "protocolVersion": .string(ProtocolVersions.latestStateful),
            "capabilities": ["sampling": [:], "elicitation": [:], "roots": ["listChanged": false]],
            "clientInfo": clientInfo,
        ]
        let id = makeID()
        let deadline = NIODeadline.now() + TimeAmount(options.initializeTimeout)
        let message = try await withDeadline(deadline) {
            try await self.exchange(
                id: id,
                body: JSONRPCMessage.requestBytes(id: id, method: "initialize", params: params.serializedBytes)
            )
        }
        guard let bytes = message.resultBytes, let result = try? JSONScanner.parse(Array(bytes)) else {
            throw UpstreamError(.protocolViolation, "the upstream process refused initialize")
        }
        write(Array(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.utf8))
        let handshake = Handshake(
            protocolVersion: result["protocolVersion"]?.stringValue ?? ProtocolVersions.latestStateful,
            capabilities: result["capabilities"] ?? [:],
            serverInfo: result["serverInfo"] ?? [:]
        )
        let (waiters, recovered) = state.withLock { state -> ([CheckedContinuation<Handshake, any Error>], Bool) in
            guard case .starting = state.phase else { return ([], false) }
            state.phase = .ready(handshake)
            state.everReady = true
            defer { state.readyWaiters = [:] }
            return (Array(state.readyWaiters.values), true)
        }
        for waiter in waiters { waiter.resume(returning: handshake) }
        if recovered {
            emit(.health(gatewayID: target.gatewayID, reachable: true, reason: "the upstream process started"))
        }
        logger.info("stdio upstream ready", metadata: ["upstream.id": .string(target.gatewayID)])
    }

    /// The process ended: whatever waited for it fails; a later start begins a new session. A
    /// process that never got through initialize also fails those waiting for it to be ready (a
    /// registration fails at once rather than waiting out the restarts).
    func failEverything(_ error: UpstreamError) {
        let (pending, readyWaiters) = state.withLock { state in
            state.writer = nil
            if case .ready = state.phase { state.phase = .starting }
            let readyWaiters = state.everReady ? [] : Array(state.readyWaiters.values)
            if !state.everReady { state.readyWaiters = [:] }
            defer { state.pending = [:] }
            return (Array(state.pending.values), readyWaiters)
        }
        for waiter in pending { waiter.resume(throwing: error) }
        relays.cancelAll()
        for waiter in readyWaiters {
            waiter.resume(throwing: UpstreamError(.unreachable, "the upstream process exited before initialize"))
        }
    }

    func giveUp(_ reason: String) {
        let waiters = state.withLock { state in
            state.phase = .gaveUp(reason)
            defer { state.readyWaiters = [:] }
            return Array(state.readyWaiters.values)
        }
        for waiter in waiters { waiter.resume(throwing: UpstreamError(.unreachable, reason)) }
    }

    /// Stops the process for good (the gateway was deleted, updated or disabled, or the gateway
    /// is shutting down).
    func close() {
        let (waiters, closeWaiter) = state.withLock { state in
            state.phase = .closed
            state.writer?.finish()
            defer {
                state.readyWaiters = [:]
                state.closeWaiter = nil
            }
            return (Array(state.readyWaiters.values), state.closeWaiter)
        }
        for waiter in waiters {
            waiter.resume(throwing: UpstreamError(.unreachable, "the upstream process was stopped"))
        }
        failEverything(UpstreamError(.unreachable, "the upstream process was stopped"))
        closeWaiter?.resume()
    }

    var isClosed: Bool {
        state.withLock { state in
            if case .closed = state.phase { return true }
            return false
        }
    }

    /// Returns once ``close()`` was called.
    func closed() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                if case .closed = state.phase { return true }
                state.closeWaiter = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }
}
