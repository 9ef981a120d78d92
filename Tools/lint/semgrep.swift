// Test cases for semgrep.yml (`semgrep scan --test Tools/lint`): each `ruleid:` line must be
// found by that rule, each `ok:` line must not. Never compiled.

func forceTry() throws {
    // ruleid: swift-no-force-try
    let value = try! decode()
    // ok: swift-no-force-try
    let other = try decode()
}

func crash() {
    // ruleid: swift-no-fatal-error
    fatalError("unreachable")
}

func chatter() {
    // ruleid: swift-no-print
    print("token", token)
    // ok: swift-no-print
    logger.info("started")
}

func spawn() {
    // ruleid: swift-no-detached-task
    Task.detached { await work() }
    // ok: swift-no-detached-task
    Task { await work() }
}

// ruleid: swift-unchecked-sendable
final class Racy: @unchecked Sendable {}

// ok: swift-unchecked-sendable
final class Safe: Sendable {}

func client() {
    // ruleid: swift-no-insecure-tls
    tls.certificateVerification = .none
}

func keys() async {
    // ruleid: swift-no-hardcoded-jwt-secret
    await keys.add(hmac: HMACKey(from: "hunter2hunter2hunter2hunter2hunter2"), digestAlgorithm: .sha256)
}
