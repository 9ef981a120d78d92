import Foundation
import GatewayApp
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// Every route the gateway registers, read from its router (so a route added later is covered
/// without editing this test), refuses a request without a token — except the two probes.
@Suite struct RouteTableTests {
    static let openPaths: Set<String> = ["/health", "/ready", "/v1/health", "/v1/ready"]

    @Test func everyRouteButTheProbesRefusesAnonymousRequests() async throws {
        var configuration = try GatewayConfiguration(values: [
            "DATABASE_URL": "sqlite:///" + NSTemporaryDirectory() + "routes-\(UUID().uuidString).db",
            "JWT_SECRET_KEY": String(repeating: "route-secret-", count: 4), "LOG_LEVEL": "critical",
        ])
        configuration.port = 0
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let built = try await buildGateway(configuration: configuration, logger: logger)
        // (method, path with every parameter filled in) for every route in the table.
        let routes: [(method: HTTPRequest.Method, path: String)] = built.router.routes.map { route in
            let path = route.path.description.split(separator: "/").map { part in
                part.hasPrefix(":") || part.hasPrefix("{") ? "x" : String(part)
            }
            return (route.method, "/" + path.joined(separator: "/"))
        }
        #expect(routes.count >= 40, "the route table looks incomplete: \(routes)")
        try await built.application().test(.router) { client in
            for (method, path) in routes {
                try await client.execute(uri: path, method: method) { response in
                    if Self.openPaths.contains(path) {
                        #expect(response.status == .ok, "\(method) \(path)")
                    } else {
                        #expect(response.status == .unauthorized, "\(method) \(path) answered \(response.status)")
                        #expect(response.headers[.wwwAuthenticate] == "Bearer", "\(method) \(path)")
                    }
                }
            }
        }
    }
}
