import Testing

@testable import GatewayCore

@Suite struct SSEParserTests {
    @Test func eventsSplitAcrossChunksAndLineEndings() throws {
        var parser = SSEParser()
        let stream =
            "event: endpoint\r\ndata: /messages/?session_id=1\r\n\r\n: ping\n\ndata: {\"a\":\ndata: 1}\nid: 7\n\n"
        var events: [SSEEvent] = []
        for byte in Array(stream.utf8) { events += try parser.feed([byte]) }
        #expect(events.count == 2)
        #expect(events[0].event == "endpoint")
        #expect(String(decoding: events[0].data, as: UTF8.self) == "/messages/?session_id=1")
        #expect(events[1].event == "message")
        #expect(String(decoding: events[1].data, as: UTF8.self) == "{\"a\":\n1}")
        #expect(events[1].id == "7")
    }

    @Test func aCarriageReturnAtTheEndOfAChunkWaitsForItsLineFeed() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("data: x\r".utf8)).isEmpty)
        let events = try parser.feed(Array("\n\r\n".utf8))
        #expect(events.map { String(decoding: $0.data, as: UTF8.self) } == ["x"])
    }

    @Test func anEventLargerThanTheLimitFails() {
        var parser = SSEParser(maximumEventSize: 16)
        #expect(throws: SSEParser.Overflow.self) { try parser.feed(Array("data: 0123456789012345678901234\n".utf8)) }
    }
}

@Suite struct ParamsRewriterTests {
    func message(_ text: String) throws -> JSONRPCMessage { try JSONRPCMessage(bytes: Array(text.utf8)) }

    @Test func replacesOnlyTheNamedMember() throws {
        let request = try message(
            #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"gw-echo","arguments":{"name":"keep"}}}"#
        )
        let params = try #require(
            ParamsRewriter.replacing("name", with: ParamsRewriter.jsonString("echo"), in: request)
        )
        #expect(String(decoding: params, as: UTF8.self) == #"{"name":"echo","arguments":{"name":"keep"}}"#)
    }

    @Test func removesThe2026EnvelopeButKeepsOtherMeta() throws {
        let params = Array(
            #"{"name":"x","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","progressToken":5}}"#.utf8
        )
        let stripped = try JSONScanner.parse(ParamsRewriter.removingEnvelopeMeta(params))
        #expect(stripped == ["name": "x", "_meta": ["progressToken": 5]])
        let onlyEnvelope = Array(#"{"_meta":{"io.modelcontextprotocol/clientInfo":{}},"uri":"a://b"}"#.utf8)
        #expect(try JSONScanner.parse(ParamsRewriter.removingEnvelopeMeta(onlyEnvelope)) == ["uri": "a://b"])
        let untouched = Array(#"{"uri":"a://b"}"#.utf8)
        #expect(ParamsRewriter.removingEnvelopeMeta(untouched) == untouched)
    }

    @Test func decoratesResultsForTheStatelessEra() throws {
        let list = ResultDecorator.decorate(Array(#"{"tools":[]}"#.utf8), method: "tools/list")
        #expect(
            try JSONScanner.parse(list) == ["resultType": "complete", "ttlMs": 0, "cacheScope": "private", "tools": []]
        )
        let empty = ResultDecorator.decorate(Array("{}".utf8), method: "ping")
        #expect(try JSONScanner.parse(empty) == ["resultType": "complete"])
        let already = Array(#"{"resultType":"input_required"}"#.utf8)
        #expect(ResultDecorator.decorate(already, method: "tools/call") == already)
    }
}
