import NIOCore
import NIOPosix

// Run Swift concurrency on NIO's event loops: a request handler, the upstream call it awaits and
// the response it writes then stay on one thread instead of hopping between thread pools.
// This must happen before any task is scheduled, hence first thing in main.
_ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

await MCPGatewayCommand.parseAndRun()
