import Synchronization

/// Work that must run exactly once when a response is over, on every path: after its body was
/// written, when writing it failed, and when the body never ran at all. Hummingbird writes the
/// response head before it calls the body closure; if that write fails (the client reset the
/// connection) the closure is released without being called, so clean-up placed only inside the
/// body would never run.
///
/// Capture it in the body closure and call ``run(clientLeft:)`` at the body's end; if the
/// closure is released unrun, `deinit` runs the work instead, as for a client that left.
package final class ResponseCleanup: Sendable {
    private let work: Mutex<(@Sendable (_ clientLeft: Bool) -> Void)?>

    package init(_ work: @escaping @Sendable (_ clientLeft: Bool) -> Void) {
        self.work = Mutex(work)
    }

    /// Runs the work unless it already ran, telling it whether the client went away.
    package func run(clientLeft: Bool = false) {
        let action = work.withLock { work in
            defer { work = nil }
            return work
        }
        action?(clientLeft)
    }

    deinit { run(clientLeft: true) }
}
