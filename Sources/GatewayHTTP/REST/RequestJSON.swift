import Foundation
import GatewayCore
import Hummingbird

/// Reading and validating JSON request bodies for the REST API.
enum RequestJSON {
    /// The body parsed as a JSON object; 415 unless it is sent as JSON, 400 for malformed JSON, 413 beyond `limit`, 408 when it
    /// does not arrive within the reader's timeout.
    static func object(_ request: Request, limit: Int, depth: Int, reader: RequestBodyReader) async throws -> JSONObject
    {
        guard isJSON(request.headers[.contentType]) else {
            throw ProblemError(
                .unsupportedMediaType,
                "The body must be JSON sent as Content-Type: application/json (got \(request.headers[.contentType].map { "'\($0.prefix(64))'" } ?? "none"))"
            )
        }
        let buffer: ByteBuffer
        do {
            buffer = try await reader.collect(request, limit: limit)
        } catch {
            throw error.problem
        }
        let value: JSONValue
        do {
            value = try JSONScanner.parse(Array(buffer.readableBytesView), maximumDepth: depth)
        } catch {
            throw ProblemError.badRequest("Malformed JSON: \(error.description)")
        }
        guard case .object(let object) = value else { throw ProblemError.badRequest("The body must be a JSON object") }
        return object
    }
}

extension RequestJSON {
    /// Whether a Content-Type names JSON: `application/json` or a `+json` type, with any parameters.
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let mediaType = contentType.prefix { $0 != ";" }.trimmingCharacters(in: .whitespaces).lowercased()
        return mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
    }
}

/// Field access that accepts ContextForge's snake_case and camelCase spellings.
struct Fields {
    let object: JSONObject
    /// The content rules names and descriptions are checked against.
    var rules = ValidationRules()

    func raw(_ names: String...) -> (name: String, value: JSONValue)? {
        for name in names { if let value = object[name] { return (name, value) } }
        return nil
    }

    /// An optional string; `null` counts as absent. 422 if another type.
    func string(_ names: String..., maxLength: Int = 8192) throws -> String? {
        for name in names {
            guard let value = object[name] else { continue }
            if value.isNull { return nil }
            guard let text = value.stringValue else { throw ProblemError.invalid(name, "must be a string") }
            guard text.count <= maxLength else {
                throw ProblemError.invalid(name, "must be at most \(maxLength) characters")
            }
            return text
        }
        return nil
    }

    /// Whether the field was given at all (even as null).
    func has(_ names: String...) -> Bool { names.contains { object[$0] != nil } }

    /// An optional array of strings. 422 if another type.
    func stringArray(_ names: String...) throws -> [String]? {
        for name in names {
            guard let value = object[name] else { continue }
            if value.isNull { return nil }
            if let text = value.stringValue {
                // ContextForge also accepts a comma-separated string.
                return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }
            guard let array = value.arrayValue else { throw ProblemError.invalid(name, "must be an array of ids") }
            return try array.map { element in
                if let text = element.stringValue { return text }
                if let number = element.intValue { return String(number) }
                throw ProblemError.invalid(name, "must be an array of ids")
            }
        }
        return nil
    }
}
