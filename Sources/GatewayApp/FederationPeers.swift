import Foundation
import GatewayCore

/// Peers the leader registers by itself: a static list (`FEDERATION_PEERS`) and the addresses
/// of a DNS name (`FEDERATION_DISCOVERY=dns:NAME:PORT`, e.g. a Kubernetes headless Service).
public struct FederationPeers: Sendable, Hashable {
    /// A peer named in `FEDERATION_PEERS`.
    public struct StaticPeer: Sendable, Hashable {
        public var name: String
        public var url: String
    }

    /// `dns:NAME:PORT[:https]`: every address of NAME is a peer at `http(s)://ADDRESS:PORT/mcp`.
    public struct DNSDiscovery: Sendable, Hashable {
        public var name: String
        public var port: Int
        /// `http` (default) or `https` (the peers' certificates must then name their addresses).
        public var scheme = "http"

        /// What the discovered gateways' descriptions say (how the leader knows its own).
        public var marker: String { "Discovered by FEDERATION_DISCOVERY=dns:\(name):\(port)" }
        /// The description of a discovered peer whose address left the name (deactivated by
        /// discovery, and so activated by it when the address is back).
        public var goneMarker: String { marker + "; address gone" }

        /// The gateway name of a discovered address: `<name slug>-<address>` (dots and colons
        /// as dashes).
        public func gatewayName(address: String) -> String {
            Naming.slug(name) + "-" + String(address.map { $0 == "." || $0 == ":" ? "-" : $0 })
        }

        /// The MCP URL of a discovered address.
        public func url(address: String) -> String {
            let host = address.contains(":") ? "[\(address)]" : address
            return "\(scheme)://\(host):\(port)/mcp"
        }
    }

    public var peers: [StaticPeer] = []
    public var discovery: DNSDiscovery?
    /// A file holding the bearer token for every peer (`FEDERATION_PEER_TOKEN_FILE`).
    public var tokenFile: String?
    /// A directory with one token file per static peer name (`FEDERATION_PEER_TOKENS_DIR`, e.g.
    /// a mounted Kubernetes Secret); wins over ``tokenFile``.
    public var tokensDirectory: String?

    public init() {}

    /// Whether the leader has anything to register.
    public var isEmpty: Bool { peers.isEmpty && discovery == nil }

    /// The token for the peer named `name`, read now (so a rotated Secret is picked up at the
    /// next round); `nil` when none is configured.
    public func token(for name: String?) -> String? {
        var paths: [String] = []
        if let tokensDirectory, let name { paths.append(tokensDirectory + "/" + name) }
        if let tokenFile { paths.append(tokenFile) }
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if !token.isEmpty { return token }
        }
        return nil
    }

    init(values: [String: String]) throws(ConfigurationError) {
        if let text = values["FEDERATION_PEERS"] {
            for item in SecuritySettings.list(text) {
                guard let equals = item.firstIndex(of: "="),
                    case let name = item[..<equals].trimmingCharacters(in: .whitespaces),
                    case let url = item[item.index(after: equals)...].trimmingCharacters(in: .whitespaces),
                    !Naming.slug(name).isEmpty, name.count <= 100, ValidationRules.urlProblem(url) == nil
                else {
                    // The entry is not echoed: its URL may carry credentials.
                    throw ConfigurationError(
                        "FEDERATION_PEERS must be comma-separated name=url entries with http(s) URLs (entry \(peers.count + 1) is not)"
                    )
                }
                guard !peers.contains(where: { $0.name == name }) else {
                    throw ConfigurationError("FEDERATION_PEERS names the peer '\(name)' twice")
                }
                peers.append(StaticPeer(name: name, url: url))
            }
        }
        if let text = values["FEDERATION_DISCOVERY"], !text.isEmpty {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3 || (parts.count == 4 && ["http", "https"].contains(parts[3])), parts[0] == "dns",
                !parts[1].isEmpty, parts[1].count <= 253,
                parts[1].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }),
                let port = Int(parts[2]), (1...65535).contains(port)
            else {
                throw ConfigurationError(
                    "FEDERATION_DISCOVERY must be dns:NAME:PORT or dns:NAME:PORT:https (not: \(text))"
                )
            }
            discovery = DNSDiscovery(name: parts[1], port: port)
            if parts.count == 4 { discovery?.scheme = parts[3] }
        }
        if let path = values["FEDERATION_PEER_TOKEN_FILE"], !path.isEmpty {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ConfigurationError("FEDERATION_PEER_TOKEN_FILE names a file that cannot be read: \(path)")
            }
            tokenFile = path
        }
        if let path = values["FEDERATION_PEER_TOKENS_DIR"], !path.isEmpty {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ConfigurationError("FEDERATION_PEER_TOKENS_DIR is not a directory: \(path)")
            }
            tokensDirectory = path
        }
    }
}
