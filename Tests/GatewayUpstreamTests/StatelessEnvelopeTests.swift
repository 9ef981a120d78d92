import GatewayCore
import Testing

@testable import GatewayUpstream

/// What a request to a 2026-07-28 upstream carries: the `_meta` envelope merged into its params
/// whatever their shape, and routing headers that survive any name.
@Suite struct StatelessEnvelopeTests {
    static let envelope = Array(#""io.modelcontextprotocol/protocolVersion":"2026-07-28""#.utf8)

    static func merged(_ params: String?) throws -> JSONValue {
        try JSONScanner.parse(HTTPUpstreamClient.params(params.map { Array($0.utf8) }, envelope: envelope))
    }

    @Test func theEnvelopeIsMergedIntoAnyParams() throws {
        let none = try Self.merged(nil)
        #expect(none["_meta"]?["io.modelcontextprotocol/protocolVersion"]?.stringValue == "2026-07-28")
        let empty = try Self.merged("{}")
        #expect(empty["_meta"]?["io.modelcontextprotocol/protocolVersion"]?.stringValue == "2026-07-28")
        let named = try Self.merged(#"{"name":"echo","arguments":{"_meta":1}}"#)
        #expect(named["name"]?.stringValue == "echo")
        #expect(named["arguments"]?["_meta"]?.intValue == 1)
        #expect(named["_meta"]?["io.modelcontextprotocol/protocolVersion"]?.stringValue == "2026-07-28")
        let withMeta = try Self.merged(#"{"_meta":{"progressToken":7},"name":"p"}"#)
        #expect(withMeta["_meta"]?["progressToken"]?.intValue == 7)
        #expect(withMeta["_meta"]?["io.modelcontextprotocol/protocolVersion"]?.stringValue == "2026-07-28")
        let emptyMeta = try Self.merged(#"{"_meta":{}}"#)
        #expect(emptyMeta["_meta"]?["io.modelcontextprotocol/protocolVersion"]?.stringValue == "2026-07-28")
    }

    @Test func namesThatAreNotPlainASCIIGoInBase64() {
        #expect(HTTPUpstreamClient.headerValue("echo") == "echo")
        #expect(HTTPUpstreamClient.headerValue("file:///a b") == "file:///a b")
        #expect(HTTPUpstreamClient.headerValue("über") == "=?base64?w7xiZXI=?=")
        #expect(HTTPUpstreamClient.headerValue(" padded") == "=?base64?IHBhZGRlZA==?=")
        #expect(HTTPUpstreamClient.headerValue("a\nb") == "=?base64?YQpi?=")
    }

    @Test func onlyInputRequiredAsksAnything() throws {
        let complete = UpstreamReply.result(Array(#"{"content":[],"resultType":"complete"}"#.utf8))
        #expect(HTTPUpstreamClient.inputRequired(in: complete) == nil)
        let nested = UpstreamReply.result(Array(#"{"structuredContent":{"resultType":"input_required"}}"#.utf8))
        #expect(HTTPUpstreamClient.inputRequired(in: nested) == nil)
        let asking = UpstreamReply.result(
            Array(
                String(
                    #"{"resultType":"input_required","inputRequests":{"a":{"method":"roots/list"},"#
                        + #""b":{"method":"sampling/createMessage","params":{"maxTokens":8}}},"requestState":"s1"}"#
                ).utf8
            )
        )
        let asked = try #require(HTTPUpstreamClient.inputRequired(in: asking))
        #expect(asked.questions.map { $0.key } == ["a", "b"])
        #expect(asked.questions.map { $0.method } == ["roots/list", "sampling/createMessage"])
        #expect(asked.questions[0].params == nil)
        #expect(asked.requestState == Array(#""s1""#.utf8))
    }
}
