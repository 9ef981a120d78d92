import Foundation

/// What a child process started by the gateway (a stdio upstream, the process behind
/// `mcpgateway translate --stdio`) inherits from the gateway's environment.
///
/// The gateway's environment holds its secrets (`JWT_SECRET_KEY`, `AUTH_ENCRYPTION_SECRET`,
/// `DATABASE_URL` and `REDIS_URL` with passwords, `METRICS_BEARER_TOKEN`), and a stdio MCP server
/// is third-party code that any caller can make talk. So a child gets only the variables named
/// here (`STDIO_ENV_ALLOWLIST`), then the variables registered with it, which win.
public struct ChildEnvironment: Sendable, Equatable {
    /// The variables a child inherits by default: what a program needs to find executables,
    /// a home and a temporary directory, and to decode text.
    public static let defaultAllowList = ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ"]

    /// Names of the gateway's variables a child inherits (when the gateway has them).
    public var allowList: [String]

    public init(allowList: [String] = ChildEnvironment.defaultAllowList) {
        self.allowList = allowList
    }

    /// The environment of a child: the allowed variables of `parent`, then `registered` over them.
    public func environment(parent: [String: String], registered: [String: String] = [:]) -> [String: String] {
        var result: [String: String] = [:]
        for name in allowList {
            if let value = parent[name] { result[name] = value }
        }
        for (name, value) in registered { result[name] = value }
        return result
    }

    /// A setting that names something other than variables.
    public struct InvalidSetting: Error, Sendable {
        public let message: String
    }

    /// Parses `STDIO_ENV_ALLOWLIST`: comma-separated variable names; unset means the default,
    /// empty means nothing is inherited.
    public init(setting text: String?) throws(InvalidSetting) {
        guard let text else {
            self.init()
            return
        }
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for name in names {
            let bytes = name.utf8
            let valid =
                bytes.allSatisfy {
                    $0 == 0x5F || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0)
                }
                && !(0x30...0x39).contains(bytes.first ?? 0)
            guard valid else {
                throw InvalidSetting(
                    message: "'\(name)' is not a variable name (letters, digits and _, not starting with a digit)"
                )
            }
        }
        self.init(allowList: names)
    }
}
