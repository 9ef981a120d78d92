import GatewayCore
import HTTPTypes
import Hummingbird
import NIOCore

/// An RFC 9457 problem, thrown by REST handlers and rendered as `application/problem+json`.
/// This is the one place where domain errors become HTTP responses.
public struct ProblemError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var title: String
    public var detail: String
    /// Extra members (e.g. `field` for validation errors).
    public var extra: [(String, JSONValue)] = []
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ detail: String, title: String? = nil) {
        self.status = status
        self.detail = detail
        self.title = title ?? status.reasonPhrase
    }

    public static func badRequest(_ detail: String) -> Self { Self(.badRequest, detail) }
    public static func notFound(_ detail: String) -> Self { Self(.notFound, detail) }

    /// A validation failure naming the field and the rule.
    public static func invalid(_ field: String, _ rule: String) -> Self {
        var problem = Self(.unprocessableContent, "\(field): \(rule)", title: "Validation error")
        problem.extra = [("field", .string(field))]
        return problem
    }

    /// Maps registry failures to problems.
    public init(_ error: RegistryError) {
        switch error.code {
        case .notFound: self.init(.notFound, error.message)
        case .conflict: self.init(.conflict, error.message)
        case .invalidField:
            self.init(.unprocessableContent, error.message, title: "Validation error")
            if let field = error.field { extra = [("field", .string(field))] }
        case .upstreamFailed: self.init(.badGateway, error.message, title: "Upstream unreachable")
        default: self.init(.serviceUnavailable, error.message)
        }
    }

    /// Maps store failures that reach a route unwrapped (the token and audit routes call the
    /// store directly): a conflict is 409, anything else 503, since the store is down or refused.
    public init(_ error: StoreError) {
        switch error.code {
        case .conflict: self.init(.conflict, "A name or id is already in use")
        default: self.init(.serviceUnavailable, "The store is unavailable; try again later", title: "Store unavailable")
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var body = JSONObject([
            ("type", .string("about:blank")), ("title", .string(title)), ("status", .int(Int64(status.code))),
            ("detail", .string(detail)),
        ])
        for (key, value) in extra { body[key] = value }
        var fields = headers
        fields[.contentType] = "application/problem+json"
        return Response(
            status: status,
            headers: fields,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONValue.object(body).serializedBytes))
        )
    }
}

/// Registry refusals thrown from any route become problems through Hummingbird's own error
/// mapping, so handlers need no per-route translation.
extension RegistryError: HTTPResponseError {
    public var status: HTTPResponse.Status { ProblemError(self).status }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try ProblemError(self).response(from: request, context: context)
    }
}

/// Store failures thrown from any route become problems the same way, never a bare 500.
extension StoreError: HTTPResponseError {
    public var status: HTTPResponse.Status { ProblemError(self).status }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try ProblemError(self).response(from: request, context: context)
    }
}
