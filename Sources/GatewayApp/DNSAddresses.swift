import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// The addresses a DNS name resolves to (what `/etc/hosts` and the resolver say, as every
/// program on the host sees them), for DNS peer discovery.
enum DNSAddresses {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Every distinct IPv4 and IPv6 address of `name`, sorted; `[]` when the name does not exist
    /// (a headless Service without ready endpoints). Throws on any other failure, so a resolver
    /// outage is never taken for "every peer went away". Runs off the caller's thread
    /// (`getaddrinfo` blocks).
    static func resolve(_ name: String) async throws -> [String] {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try lookUp(name) }) }
        }
    }

    /// glibc's `EAI_NODATA` (the name exists without addresses), declared only under
    /// `_GNU_SOURCE`, so not imported.
    static let noData: Int32 = -5

    static func lookUp(_ name: String) throws -> [String] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(name, nil, &hints, &list)
        if status == EAI_NONAME || status == noData { return [] }
        guard status == 0 else { throw Failure(description: String(cString: gai_strerror(status))) }
        defer { freeaddrinfo(list) }
        var addresses = Set<String>()
        var entry = list
        while let current = entry {
            if let address = text(of: current.pointee) { addresses.insert(address) }
            entry = current.pointee.ai_next
        }
        return addresses.sorted()
    }

    static func text(of info: addrinfo) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard let address = info.ai_addr,
            getnameinfo(address, info.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0
        else { return nil }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
