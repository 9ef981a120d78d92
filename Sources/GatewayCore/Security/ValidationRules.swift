import Foundation

/// The content rules for everything written through the API and everything discovered on
/// upstreams (ContextForge's `VALIDATION_*` knobs).
///
/// Markup in names and descriptions is refused, not escaped: the gateway never renders HTML
/// (its answers are JSON with `nosniff`), and escaping would change the text a model reads.
/// What is refused is markup that runs script in a browser that does render it.
public struct ValidationRules: Sendable, Equatable {
    /// Names of gateways, virtual servers and tokens: `^[a-zA-Z0-9_.\- ]+$`.
    public var maximumNameLength = 255
    /// Tool and prompt names: `^[a-zA-Z0-9_][a-zA-Z0-9._/-]*$`.
    public var maximumToolNameLength = 128
    public var maximumDescriptionLength = 8192
    /// Deepest JSON nesting accepted in a request body, checked while parsing.
    public var maximumJSONDepth = 30
    /// Largest `params` of one MCP request, in bytes.
    public var maximumParamsBytes = 256 * 1024
    /// `_meta` forwarded upstream: at most this many keys (protocol envelope keys aside) ...
    public var maximumMetaKeys = 16
    /// ... whose values nest at most one level (so `_meta` is at most 2 deep) ...
    public var maximumMetaDepth = 2
    /// ... in at most this many bytes.
    public var maximumMetaBytes = 4096
    /// MIME types a discovered resource may declare (a resource without one is accepted).
    public var allowedMIMETypes: Set<String> = ValidationRules.defaultMIMETypes

    public init() {}

    public static let defaultMIMETypes: Set<String> = [
        "text/plain", "text/markdown", "text/csv", "text/x-python", "text/x-shellscript", "text/xml",
        "application/json", "application/xml", "application/yaml", "application/x-yaml", "application/toml",
        "application/pdf", "application/octet-stream", "application/zip", "application/gzip",
        "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp",
        "audio/mpeg", "audio/wav", "audio/ogg", "audio/webm", "video/mp4", "video/webm",
    ]

    /// Why `name` is not a valid gateway, server or token name, or `nil`.
    public func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "must not be empty" }
        if name.count > maximumNameLength { return "must be at most \(maximumNameLength) characters" }
        let valid = name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (Self.isAlphanumeric(scalar) || "_.- ".unicodeScalars.contains(scalar))
        }
        return valid ? nil : "may contain only letters, digits, spaces and _ . -"
    }

    /// Why `name` is not a valid tool or prompt name, or `nil`.
    public func toolNameProblem(_ name: String) -> String? {
        guard let first = name.unicodeScalars.first else { return "must not be empty" }
        if name.count > maximumToolNameLength { return "must be at most \(maximumToolNameLength) characters" }
        let valid =
            first.isASCII && (Self.isAlphanumeric(first) || first == "_")
            && name.unicodeScalars.allSatisfy {
                $0.isASCII && (Self.isAlphanumeric($0) || "_./-".unicodeScalars.contains($0))
            }
        return valid ? nil : "must start with a letter, digit or _ and contain only letters, digits and _ . / -"
    }

    /// Why `text` (a description or title) is refused, or `nil`.
    public func descriptionProblem(_ text: String) -> String? {
        if text.count > maximumDescriptionLength { return "must be at most \(maximumDescriptionLength) characters" }
        if let markup = Self.dangerousMarkup(in: text) { return "must not contain markup that runs script (\(markup))" }
        return nil
    }

    /// Why `text` is refused as the value of a URL-valued field (an upstream's `url`, a virtual
    /// server's `icon`), or `nil`: it must be an absolute `http` or `https` URL with a host,
    /// without credentials, whitespace or control characters. So `javascript:`, `data:`,
    /// `vbscript:`, `file:` and every other scheme are refused, and a UI that shows the value
    /// as a link or an image is never handed script.
    public static func urlProblem(_ text: String) -> String? {
        if text.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) {
            return "must not contain whitespace or control characters"
        }
        guard let colon = text.firstIndex(of: ":") else { return "must be an absolute http or https URL" }
        let scheme = text[..<colon].lowercased()
        guard scheme == "http" || scheme == "https" else {
            return "scheme must be http or https (not \(scheme.prefix(32)):)"
        }
        guard let url = URL(string: text), let host = url.host, !host.isEmpty else {
            return "must be an absolute http or https URL"
        }
        if url.user != nil || url.password != nil || UpstreamOrigin.redactingUserInfo(text) != text {
            return "must not carry credentials (user:password@)"
        }
        return nil
    }

    /// Whether a discovered resource may declare `mimeType` (parameters such as `; charset=` aside).
    public func allows(mimeType: String) -> Bool {
        let bare = mimeType.split(separator: ";", maxSplits: 1).first.map(String.init) ?? mimeType
        return allowedMIMETypes.contains(bare.trimmingCharacters(in: .whitespacesAndNewlines).lowercased())
    }

    static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }

    static let dangerousTags = [
        "script", "iframe", "object", "embed", "applet", "frame", "frameset", "svg", "math", "img", "video", "audio",
        "source", "style", "link", "meta", "base", "form", "input", "button", "textarea", "html", "body",
    ]

    /// The first markup in `text` that would run script when rendered: a dangerous tag, a
    /// `javascript:`/`vbscript:`/`data:text/html` URL, or an `on…=` handler inside a tag.
    public static func dangerousMarkup(in text: String) -> String? {
        let lowercased = text.lowercased()
        for scheme in ["javascript:", "vbscript:", "data:text/html"] where lowercased.contains(scheme) {
            return scheme
        }
        let lower = Array(lowercased.utf8)
        var index = 0
        while index < lower.count {
            guard lower[index] == UInt8(ascii: "<") else {
                index += 1
                continue
            }
            var cursor = index + 1
            if cursor < lower.count, lower[cursor] == UInt8(ascii: "/") { cursor += 1 }
            var name: [UInt8] = []
            while cursor < lower.count, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(lower[cursor]) {
                name.append(lower[cursor])
                cursor += 1
            }
            let tag = String(decoding: name, as: UTF8.self)
            let boundary = cursor >= lower.count || !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(lower[cursor])
            if !tag.isEmpty, boundary, dangerousTags.contains(tag) { return "<\(tag)" }
            if !tag.isEmpty, let close = lower[cursor...].firstIndex(of: UInt8(ascii: ">")),
                hasEventHandler(lower[cursor..<close])
            {
                return "an on… handler in <\(tag)>"
            }
            index += 1
        }
        return nil
    }

    /// ` on<letters>=` (whitespace allowed before `=`) inside a tag's attributes.
    static func hasEventHandler(_ attributes: ArraySlice<UInt8>) -> Bool {
        let bytes = Array(attributes)
        var index = 0
        while index + 3 < bytes.count {
            let before = bytes[index]
            if before == 0x20 || before == 0x09 || before == 0x0A || before == UInt8(ascii: "/"),
                bytes[index + 1] == UInt8(ascii: "o"), bytes[index + 2] == UInt8(ascii: "n")
            {
                var cursor = index + 3
                var letters = 0
                while cursor < bytes.count, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(bytes[cursor]) {
                    cursor += 1
                    letters += 1
                }
                while cursor < bytes.count, bytes[cursor] == 0x20 || bytes[cursor] == 0x09 { cursor += 1 }
                if letters > 0, cursor < bytes.count, bytes[cursor] == UInt8(ascii: "=") { return true }
            }
            index += 1
        }
        return false
    }
}
