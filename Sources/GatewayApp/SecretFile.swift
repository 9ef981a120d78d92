import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A secret that was not configured (the JWT secret, the credential encryption secret):
/// generated once, stored with mode 0600 in the data directory, and reused on every start (never
/// a built-in default).
enum SecretFile {
    static func loadOrCreate(
        directory: String,
        name: String = "jwt-secret",
        variable: String = "JWT_SECRET_KEY"
    ) throws(ConfigurationError) -> String {
        let path = directory + "/" + name
        let manager = FileManager.default
        if let data = manager.contents(atPath: path) {
            let secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard secret.utf8.count >= 32 else {
                throw ConfigurationError("\(path) holds a secret shorter than 32 bytes; delete it or set \(variable)")
            }
            return secret
        }
        do {
            try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ConfigurationError("cannot create the data directory \(directory)")
        }
        var generator = SystemRandomNumberGenerator()
        let secret = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        // O_EXCL with mode 0600: never readable by others, and of two first starts only one writes.
        let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST { return try loadOrCreate(directory: directory, name: name, variable: variable) }
            throw ConfigurationError("cannot write \(path)")
        }
        defer { close(descriptor) }
        let bytes = Array(secret.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(descriptor) == 0 else { throw ConfigurationError("cannot write \(path)") }
        return secret
    }
}
