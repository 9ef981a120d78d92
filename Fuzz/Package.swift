// swift-tools-version:6.2
// libFuzzer targets for the hand-written parsers, built by `make fuzz` with
// `-sanitize=fuzzer,address` in its own build directory (the root package never builds them).
import PackageDescription

let package = Package(
    name: "mcp-gateway-fuzz",
    dependencies: [.package(name: "mcp-gateway", path: "..")],
    targets: [
        .target(name: "CFuzzerDriver"),
        .executableTarget(
            name: "JSONFuzz",
            dependencies: ["CFuzzerDriver", .product(name: "GatewayCore", package: "mcp-gateway")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ]
)
