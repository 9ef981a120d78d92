import Logging

/// Both stores' check, at migration, for a schema a newer build has migrated (an image rolled
/// back): the node runs on it, and says so, since nothing checks the changes since are ones this
/// build can live with (docs/operations.md, Rollback).
enum NewerSchema {
    static func warnIfNewer(_ newest: Int64, known: Int64, logger: Logger) {
        guard newest > known else { return }
        logger.warning(
            "the database schema is newer than this build: running on it unchecked (see docs/operations.md, Rollback)",
            metadata: ["store.schema_version": "\(newest)", "store.known_version": "\(known)"]
        )
    }
}
