import GatewayCore
import GatewayHTTP
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Writes one line per log event to stderr, as JSON (the default: one object per line, for log
/// collectors) or as text (`time level label: message key=value ...`, for people).
///
/// A JSON line has `timestamp` (ISO 8601, UTC), `level`, `logger`, `message`, `source`, then
/// every metadata key (the node's `node_id`, a request's `request_id`, `session_hash`, `trace_id`,
/// and what the event adds) as its own member; Hummingbird's `hb.request.id` is written as
/// `request_id`. Nothing here filters secrets: no code logs one.
///
/// swift-log's `StreamLogHandler` re-renders all metadata every time one key is set, and
/// Hummingbird sets a request id on every request's logger; this handler renders metadata only
/// when a line is actually written, so per-request loggers cost nothing at the usual levels.
public struct StandardErrorLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let format: ObservabilitySettings.LogFormat

    public init(
        label: String,
        level: Logger.Level,
        format: ObservabilitySettings.LogFormat = .text,
        metadata: Logger.Metadata = [:],
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.metadata = metadata
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var bytes =
            switch format {
            case .json: jsonLine(event, merged)
            case .text: textLine(event, merged)
            }
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    func textLine(_ event: LogEvent, _ metadata: Logger.Metadata) -> [UInt8] {
        var line = "\(Timestamp.now().iso8601) \(event.level) \(label): \(event.message)"
        for key in metadata.keys.sorted() {
            line += " \(Self.displayName(key))=\(metadata[key].map { "\($0)" } ?? "")"
        }
        line += "\n"
        return Array(line.utf8)
    }

    func jsonLine(_ event: LogEvent, _ metadata: Logger.Metadata) -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.raw("{\"timestamp\":")
        writer.string(Timestamp.now().iso8601)
        writer.raw(",\"level\":")
        writer.string(event.level.rawValue)
        writer.raw(",\"logger\":")
        writer.string(label)
        writer.raw(",\"message\":")
        writer.string(event.message.description)
        writer.raw(",\"source\":")
        writer.string(event.source)
        for key in metadata.keys.sorted() where !Self.reserved.contains(key) {
            guard let value = metadata[key] else { continue }
            writer.raw(",")
            writer.string(Self.displayName(key))
            writer.raw(":")
            writer.value(Self.json(value))
        }
        writer.raw("}\n")
        return writer.bytes
    }

    /// A metadata key as lines show it: Hummingbird's request id is `request_id`.
    static func displayName(_ key: String) -> String {
        key == RequestLogContext.hummingbirdKey ? "request_id" : key
    }

    /// Keys the line itself uses; metadata never overwrites them.
    static let reserved: Set<String> = ["timestamp", "level", "logger", "message", "source"]

    static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let convertible): .string(convertible.description)
        case .array(let values): .array(values.map(json))
        case .dictionary(let members):
            .object(JSONObject(members.keys.sorted().compactMap { key in members[key].map { (key, json($0)) } }))
        }
    }
}
