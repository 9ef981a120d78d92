import GatewayCore
import Logging
import Subprocess
import Synchronization

/// A child process spoken to in lines: what is sent goes to its standard input, each line of its
/// standard output comes out of ``lines``, its standard error goes to the log. It runs from
/// ``run()`` until it exits or the running task is cancelled (SIGTERM, then SIGKILL).
///
/// The command is a shell command line (`/bin/sh -c 'exec …'`), as users write it after
/// `--stdio`, so quoting works as in their shell. It gets `environment` only (see
/// ``ChildEnvironment``), not the bridge's own, which holds its tokens.
public final class LineProcess: Sendable {
    public let commandLine: String
    let environment: [String: String]
    let logger: Logger
    let maximumLineBytes: Int
    /// Lines of the process's standard output, in order; ends when the process does.
    public let lines: AsyncStream<[UInt8]>
    let linesContinuation: AsyncStream<[UInt8]>.Continuation
    let outbound: AsyncStream<[UInt8]>
    let outboundContinuation: AsyncStream<[UInt8]>.Continuation

    public init(
        commandLine: String,
        environment: [String: String],
        logger: Logger,
        maximumLineBytes: Int = 16 << 20,
        queue: Int = 4096
    ) {
        self.commandLine = commandLine
        self.environment = environment
        self.logger = logger
        self.maximumLineBytes = maximumLineBytes
        (lines, linesContinuation) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingOldest(queue))
        (outbound, outboundContinuation) = AsyncStream.makeStream(
            of: [UInt8].self,
            bufferingPolicy: .bufferingOldest(queue)
        )
    }

    /// Queues one line for the process; `false` when it has ended or too much is waiting.
    @discardableResult
    public func send(_ line: [UInt8]) -> Bool {
        if case .enqueued = outboundContinuation.yield(line + [0x0A]) { return true }
        return false
    }

    /// Runs the process to its end; returns how it ended.
    @discardableResult
    public func run() async -> String {
        defer {
            linesContinuation.finish()
            outboundContinuation.finish()
        }
        var platform = PlatformOptions()
        platform.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: .seconds(2))]
        let outbound = outbound
        let maximumLine = maximumLineBytes
        do {
            let result = try await Subprocess.run(
                .name("sh"),
                arguments: ["-c", "exec " + commandLine],
                environment: .custom(
                    Dictionary(
                        uniqueKeysWithValues: environment.map { (Environment.Key(stringLiteral: $0.key), $0.value) }
                    )
                ),
                platformOptions: platform,
                input: .inputWriter,
                output: .sequence,
                error: .sequence
            ) { execution in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await line in execution.standardError.strings(
                            bufferingPolicy: .maxLineLength(64 * 1024)
                        ) {
                            self.logger.info("stdio server: \(line)")
                        }
                    }
                    group.addTask {
                        for await line in outbound { _ = try await execution.standardInputWriter.write(line) }
                        try await execution.standardInputWriter.finish()
                    }
                    for try await line in execution.standardOutput.strings(bufferingPolicy: .maxLineLength(maximumLine))
                    {
                        let bytes = Array(line.utf8)
                        if !bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) {
                            self.linesContinuation.yield(bytes)
                        }
                    }
                    group.cancelAll()
                }
            }
            return "\(result.terminationStatus)"
        } catch {
            return "\(error)"
        }
    }
}
