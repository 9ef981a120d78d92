import Foundation

/// The JWT secret when none is configured: generated once, stored with mode 0600 in the data
/// directory, and reused on every start (never a built-in default).
enum SecretFile {
    static func loadOrCreate(directory: String) throws(ConfigurationError) -> String {
        let path = directory + "/jwt-secret"
        let manager = FileManager.default
        if let data = manager.contents(atPath: path) {
            let secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard secret.utf8.count >= 32 else {
                throw ConfigurationError("\(path) holds a secret shorter than 32 bytes; delete it or set JWT_SECRET_KEY")
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
        // Created with 0600 from the start, so the secret is never readable by others.
        guard manager.createFile(atPath: path, contents: Data(secret.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ConfigurationError("cannot write \(path)")
        }
        return secret
    }
}
