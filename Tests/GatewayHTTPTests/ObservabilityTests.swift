import Foundation
import GatewayAuth
import Logging
import Testing
import Tracing

@testable import GatewayApp
@testable import GatewayHTTP

@Suite struct ObservabilityTests {
    struct DictionaryCarrier: Extractor, Injector {
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    }

    /// What a span started under the context extracted from `incoming` sends on, and whether a
    /// trace context was extracted at all.
    static func propagate(_ incoming: [String: String]) -> (extracted: Bool, outgoing: [String: String]) {
        let tracer = TraceContextPropagator()
        var context = InstrumentationContext.topLevel
        tracer.extract(incoming, into: &context, using: DictionaryCarrier())
        let span = tracer.startSpan(
            "test",
            context: context,
            ofKind: .client,
            at: DefaultTracerClock.now,
            function: #function,
            file: #fileID,
            line: #line
        )
        var outgoing: [String: String] = [:]
        tracer.inject(span.context, into: &outgoing, using: DictionaryCarrier())
        return (context.traceContext != nil, outgoing)
    }

    @Test func aSpanContinuesTheClientsTraceWithItsOwnSpanID() {
        let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"  // pragma: allowlist secret
        let (extracted, outgoing) = Self.propagate([
            "traceparent": "00-\(traceID)-00f067aa0ba902b7-01", "tracestate": "a=b",
        ])
        let parts = outgoing["traceparent"]?.split(separator: "-").map(String.init) ?? []
        #expect(extracted && parts.count == 4)
        #expect(parts.first == "00" && parts.dropFirst().first == traceID)
        #expect(parts.dropFirst(2).first != "00f067aa0ba902b7" && parts.last == "01")
        #expect(outgoing["tracestate"] == "a=b")
    }

    @Test(arguments: ["", "garbage", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "ff-0-0-0"])
    func aMalformedTraceparentStartsANewUnsampledTrace(header: String) {
        let (extracted, outgoing) = Self.propagate(["traceparent": header])
        #expect(!extracted)
        #expect(outgoing["traceparent"]?.hasSuffix("-00") == true)
        #expect(outgoing["tracestate"] == nil)
    }

    @Test func theScrapeTokenMatchesOnlyItself() {
        let token = ScrapeToken(String(repeating: "s", count: 40))
        #expect(token.matches(Substring(String(repeating: "s", count: 40))))
        #expect(!token.matches(Substring(String(repeating: "s", count: 39))))
        #expect(!token.matches(""))
    }

    @Test(arguments: [
        ("abc-123_x.y:z", "abc-123_x.y:z"), ("", nil), ("has space", nil), ("new\nline", nil),
        (String(repeating: "a", count: 128), String(repeating: "a", count: 128)),
        (String(repeating: "a", count: 129), nil), ("ünïcode", nil),
    ])
    func onlyPlainRequestIDsAreKept(header: String, kept: String?) {
        #expect(RequestLogContext.acceptable(header) == kept)
    }

    @Test func sessionHashesAreStableShortAndNotTheID() {
        let id = "sealed-session-id-" + String(repeating: "x", count: 64)
        let hash = RequestLogContext.sessionHash(id)
        #expect(hash.count == 16 && hash.allSatisfy(\.isHexDigit))
        #expect(hash == RequestLogContext.sessionHash(id) && hash != RequestLogContext.sessionHash(id + "y"))
    }

    @Test func aJSONLogLineIsOneObjectWithEscapedValues() throws {
        let handler = StandardErrorLogHandler(label: "test", level: .info, format: .json, metadata: ["node_id": "n1"])
        let event = LogEvent(
            level: .warning,
            message: "quote \" and\nnewline",
            metadata: ["nested": ["k": .array(["v"])], "message": "x"],
            source: "Tests",
            file: #fileID,
            function: #function,
            line: #line
        )
        let line = handler.jsonLine(event, handler.metadata.merging(event.metadata ?? [:]) { _, new in new })
        #expect(line.last == UInt8(ascii: "\n") && line.filter { $0 == UInt8(ascii: "\n") }.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        #expect(object["message"] as? String == "quote \" and\nnewline")
        #expect(object["level"] as? String == "warning" && object["node_id"] as? String == "n1")
        #expect((object["nested"] as? [String: Any])?["k"] as? [String] == ["v"])
        #expect(object["timestamp"] is String && object["logger"] as? String == "test")
    }
}
