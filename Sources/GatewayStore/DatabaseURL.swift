/// A parsed `DATABASE_URL` in ContextForge's forms.
public enum DatabaseURL: Sendable, Equatable {
    /// `sqlite:///relative/path.db` (relative to the working directory) or
    /// `sqlite:////absolute/path.db`.
    case sqlite(path: String)
    /// `postgresql://user:password@host:port/database?sslmode=…` (also `postgres://` and
    /// `postgresql+psycopg://`), served by ``PostgresStore``; checked when parsed.
    case postgres(url: String)

    /// Parses a URL, or explains in one line why it cannot be used.
    public static func parse(_ text: String) throws(DatabaseURLError) -> DatabaseURL {
        if text.hasPrefix("sqlite:///") {
            let path = String(text.dropFirst("sqlite:///".count))
            guard !path.isEmpty, path != "/" else { throw DatabaseURLError("DATABASE_URL names no SQLite file") }
            if path.hasPrefix("/") { return .sqlite(path: path) }
            return .sqlite(path: path)
        }
        if text.hasPrefix("sqlite://") {
            throw DatabaseURLError("DATABASE_URL must be sqlite:///relative.db or sqlite:////absolute/path.db")
        }
        if PostgresConnectionConfig.schemes.contains(where: { text.hasPrefix($0) }) {
            _ = try PostgresConnectionConfig(parsing: text)
            return .postgres(url: text)
        }
        throw DatabaseURLError("DATABASE_URL must start with sqlite:/// or postgresql://")
    }
}

/// Why a `DATABASE_URL` was refused. Never repeats the URL (it may hold a password).
public struct DatabaseURLError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
