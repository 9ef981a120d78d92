import Foundation

/// Which upstream addresses the gateway may connect to (the SSRF guard's rules).
///
/// Always refused: cloud metadata endpoints (169.254.169.254, fd00:ec2::254, 100.100.100.200,
/// 168.63.129.16, 192.0.0.192 and the metadata host names), link-local, unspecified, multicast
/// and broadcast addresses. IPv6 addresses that carry an IPv4 address (NAT64, IPv4-compatible,
/// 6to4, Teredo) are judged as the IPv4 address they reach.
/// Refused unless allowed: loopback (`SSRF_ALLOW_LOCALHOST`) and private ranges — RFC 1918,
/// CGNAT 100.64/10, IPv6 ULA fc00::/7 — (`SSRF_ALLOW_PRIVATE_NETWORKS`). Networks in
/// `SSRF_ALLOWED_NETWORKS` are allowed whatever their class, except metadata endpoints.
public struct NetworkPolicy: Sendable, Equatable {
    public var allowLocalhost = false
    public var allowPrivateNetworks = false
    public var allowedNetworks: [IPNetwork] = []

    public init(allowLocalhost: Bool = false, allowPrivateNetworks: Bool = false, allowedNetworks: [IPNetwork] = []) {
        self.allowLocalhost = allowLocalhost
        self.allowPrivateNetworks = allowPrivateNetworks
        self.allowedNetworks = allowedNetworks
    }

    /// Host names that reach metadata services without a metadata address in the URL.
    static let metadataHostNames: Set<String> = [
        "metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal",
    ]

    /// Why `host` (as written in a URL) is refused before it is resolved, or `nil`.
    public func refusal(forHostName host: String) -> String? {
        var name = host.lowercased()
        while name.hasSuffix(".") { name.removeLast() }
        if Self.metadataHostNames.contains(name) { return "\(host) is a cloud metadata service" }
        return nil
    }

    /// Why connecting to `address` is refused, or `nil` when it is allowed.
    public func refusal(for address: IPAddress) -> String? {
        let kind = address.classification
        if kind == .metadata { return "\(address) is a cloud metadata address" }
        if allowedNetworks.contains(where: { $0.contains(address) }) { return nil }
        switch kind {
        case .metadata: return "\(address) is a cloud metadata address"
        case .linkLocal: return "\(address) is link-local"
        case .unspecified, .multicast, .broadcast: return "\(address) is not a unicast address"
        case .loopback:
            return allowLocalhost ? nil : "\(address) is loopback (set SSRF_ALLOW_LOCALHOST=true to allow it)"
        case .privateNetwork:
            return allowPrivateNetworks
                ? nil
                : "\(address) is in a private range (set SSRF_ALLOW_PRIVATE_NETWORKS=true or SSRF_ALLOWED_NETWORKS)"
        case .global: return nil
        }
    }
}

/// An IPv4 or IPv6 address as its network-order bytes (4 or 16). IPv4-mapped IPv6 addresses
/// (`::ffff:a.b.c.d`) are taken as the IPv4 address they carry.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
            self.bytes = Array(bytes[12..<16])
        } else if bytes.count == 4 || bytes.count == 16 {
            self.bytes = bytes
        } else {
            return nil
        }
    }

    /// Parses dotted IPv4 or RFC 4291 IPv6 text (without brackets or zone).
    public init?(_ text: String) {
        if text.contains(":") {
            guard let bytes = Self.parseIPv6(text) else { return nil }
            self.init(bytes: bytes)
        } else {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var bytes: [UInt8] = []
            for part in parts {
                guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let value = UInt8(part) else {
                    return nil
                }
                bytes.append(value)
            }
            self.init(bytes: bytes)
        }
    }

    static func parseIPv6(_ text: String) -> [UInt8]? {
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt8]? {
            if part.isEmpty { return [] }
            var bytes: [UInt8] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if index == pieces.count - 1, piece.contains("."), let v4 = IPAddress(String(piece)),
                    v4.bytes.count == 4
                {
                    bytes += v4.bytes
                } else {
                    guard (1...4).contains(piece.count), let value = UInt16(piece, radix: 16) else { return nil }
                    bytes += [UInt8(value >> 8), UInt8(value & 0xff)]
                }
            }
            return bytes
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 16 ? head : nil }
        guard let tail = groups(halves[1]), head.count + tail.count < 16 else { return nil }
        return head + Array(repeating: 0, count: 16 - head.count - tail.count) + tail
    }

    public var description: String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }

    /// The IPv4 address an IPv6 address reaches, where a translator or tunnel delivers it to
    /// one: NAT64 `64:ff9b::/96` (RFC 6052), IPv4-compatible `::a.b.c.d` (deprecated, still
    /// routed by some stacks), 6to4 `2002:aabb:ccdd::/48` and Teredo `2001:0::/32` (the client
    /// address, inverted). Classified as that IPv4 address, so `64:ff9b::a9fe:a9fe` is metadata.
    public var embeddedIPv4: IPAddress? {
        guard bytes.count == 16 else { return nil }
        if bytes[0..<12] == [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0] || bytes[0..<12].allSatisfy({ $0 == 0 }) {
            return IPAddress(bytes: Array(bytes[12..<16]))
        }
        if bytes[0] == 0x20, bytes[1] == 0x02 { return IPAddress(bytes: Array(bytes[2..<6])) }
        if bytes[0..<4] == [0x20, 0x01, 0x00, 0x00] { return IPAddress(bytes: bytes[12..<16].map { ~$0 }) }
        return nil
    }

    /// The network a client address is counted under by per-address limits: an IPv4 address
    /// itself, an IPv6 address's /64 (one subscriber usually holds a whole /64 and can rotate
    /// through it), written `2001:db8:1:2::/64`.
    public var clientBucket: String {
        guard bytes.count == 16 else { return description }
        let groups = stride(from: 0, to: 8, by: 2).map {
            String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16)
        }
        return groups.joined(separator: ":") + "::/64"
    }

    public enum Classification: Sendable {
        case metadata, linkLocal, unspecified, multicast, broadcast, loopback, privateNetwork, global
    }

    /// Cloud metadata and host services: AWS/GCP/Azure IMDS, Alibaba, Azure's WireServer
    /// (168.63.129.16), Oracle (192.0.0.192) and AWS's IPv6 IMDS.
    static let metadataAddresses: Set<[UInt8]> = [
        [169, 254, 169, 254], [100, 100, 100, 200], [168, 63, 129, 16], [192, 0, 0, 192],
        [0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54],
    ]

    public var classification: Classification {
        if Self.metadataAddresses.contains(bytes) { return .metadata }
        if bytes.count == 4 {
            let (a, b) = (bytes[0], bytes[1])
            if bytes == [255, 255, 255, 255] { return .broadcast }
            if a == 0 { return .unspecified }
            if a == 127 { return .loopback }
            if a == 169 && b == 254 { return .linkLocal }
            if a >= 224 { return .multicast }  // 224/4 multicast and 240/4 reserved
            if a == 10 || (a == 172 && (16...31).contains(b)) || (a == 192 && b == 168)
                || (a == 100 && (64...127).contains(b))
                || (a == 198 && (18...19).contains(b))
            {
                return .privateNetwork
            }
            return .global
        }
        if bytes.allSatisfy({ $0 == 0 }) { return .unspecified }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return .loopback }
        if let embedded = embeddedIPv4 { return embedded.classification }
        if bytes[0..<6] == [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01] {
            // NAT64 local use (RFC 8215): the IPv4 address may sit in the last 32 bits (a /96)
            // or around the reserved octet (a /48, RFC 6052); metadata is refused either way.
            let candidates = [Array(bytes[12..<16]), [bytes[6], bytes[7], bytes[9], bytes[10]]]
            let metadata = candidates.contains { IPAddress(bytes: $0)?.classification == .metadata }
            return metadata ? .metadata : .privateNetwork
        }
        if bytes[0] == 0xff { return .multicast }
        if bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80 { return .linkLocal }
        if bytes[0] & 0xfe == 0xfc { return .privateNetwork }
        return .global
    }
}

/// A CIDR block such as `10.1.0.0/16` or `fd00::/8`.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let address = IPAddress(String(parts[0])) else { return nil }
        let bits = address.bytes.count * 8
        guard let length = parts.count == 2 ? Int(parts[1]) : bits, (0...bits).contains(length) else { return nil }
        self.address = address
        self.prefixLength = length
    }

    public func contains(_ other: IPAddress) -> Bool {
        guard other.bytes.count == address.bytes.count else { return false }
        var remaining = prefixLength
        for (mine, theirs) in zip(address.bytes, other.bytes) where remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xff : ~(0xff >> UInt8(remaining))
            if mine & mask != theirs & mask { return false }
            remaining -= 8
        }
        return true
    }

    public var description: String { "\(address)/\(prefixLength)" }
}
