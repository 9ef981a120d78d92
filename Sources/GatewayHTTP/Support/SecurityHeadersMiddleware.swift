import HTTPTypes
import Hummingbird

/// Adds the security headers every answer carries, errors included: no MIME sniffing, no
/// framing, no referrer, and `Cache-Control: no-store` unless the route set its own (API answers
/// hold catalog data and tokens; streams say `no-cache`). Over TLS, `Strict-Transport-Security`.
public struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Whether the gateway terminates TLS itself (then HSTS is sent).
    let tls: Bool

    public init(tls: Bool = false) {
        self.tls = tls
    }

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.xFrameOptions] = "DENY"
        response.headers[.referrerPolicy] = "no-referrer"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        if tls { response.headers[.strictTransportSecurity] = "max-age=63072000; includeSubDomains" }
        return response
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let xFrameOptions = Self("X-Frame-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let strictTransportSecurity = Self("Strict-Transport-Security")!
}
