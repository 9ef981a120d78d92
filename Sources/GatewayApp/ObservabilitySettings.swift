/// The observability knobs of ``GatewayConfiguration`` (environment only).
///
/// | Variable | Default | Meaning |
/// |---|---|---|
/// | `METRICS_ENABLED` | `true` | serve Prometheus metrics at `GET /metrics` (admin tokens, or the scrape token below) |
/// | `METRICS_BEARER_TOKEN` | none | a static bearer token (at least 32 characters) that may read `/metrics` and nothing else, for Prometheus scrapes |
/// | `LOG_FORMAT` | `json` | `json`: one JSON object per line on stderr; `text`: one readable line per event |
public struct ObservabilitySettings: Sendable {
    /// How log lines are written.
    public enum LogFormat: String, Sendable {
        case json
        case text
    }

    public var metricsEnabled = true
    public var metricsBearerToken: String?
    public var logFormat = LogFormat.json

    public init() {}

    init(values: [String: String]) throws(ConfigurationError) {
        if let text = values["METRICS_ENABLED"] {
            metricsEnabled = try GatewayConfiguration.boolean("METRICS_ENABLED", text)
        }
        if let token = values["METRICS_BEARER_TOKEN"], !token.isEmpty {
            guard token.count >= 32, token.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                throw ConfigurationError("METRICS_BEARER_TOKEN must be at least 32 printable ASCII characters")
            }
            metricsBearerToken = token
        }
        if let text = values["LOG_FORMAT"] {
            guard let format = LogFormat(rawValue: text.lowercased()) else {
                throw ConfigurationError("LOG_FORMAT must be json or text")
            }
            logFormat = format
        }
    }
}
