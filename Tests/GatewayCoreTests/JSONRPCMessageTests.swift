import Testing

@testable import GatewayCore

@Suite struct JSONRPCMessageTests {
    func message(_ text: String) throws(JSONRPCError) -> JSONRPCMessage {
        try JSONRPCMessage(bytes: Array(text.utf8))
    }

    @Test func decodesARequestKeepingIdAndParamsRaw() throws {
        let text = #"{"jsonrpc":"2.0","id":"a-1","method":"tools/call","params":{"name":"x","arguments":{"n":1}}}"#
        let decoded = try message(text)
        #expect(decoded.kind == .request)
        #expect(decoded.id?.description == #""a-1""#)
        #expect(decoded.method == "tools/call")
        #expect(String(decoding: decoded.paramsBytes ?? [], as: UTF8.self) == #"{"name":"x","arguments":{"n":1}}"#)
    }

    @Test func distinguishesNotificationsAndResponses() throws {
        #expect(try message(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).kind == .notification)
        #expect(try message(#"{"jsonrpc":"2.0","id":3,"result":{}}"#).kind == .response)
        #expect(try message(#"{"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"x"}}"#).kind == .errorResponse)
    }

    @Test func malformedJSONIsAParseError() {
        #expect(throws: JSONRPCError.self) { try message("{nope") }
        do {
            _ = try message("{nope")
        } catch {
            #expect(error.code == .parseError)
        }
    }

    @Test(arguments: [
        #"{"id":1,"method":"ping"}"#, #"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, #"[1]"#, #"{"foo":1}"#,
        #"{"jsonrpc":"2.0","id":{},"method":"ping"}"#, #"{"jsonrpc":"2.0","id":1,"method":7}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"x","params":3}"#, #"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"x","result":{}}"#,
    ])
    func invalidShapesAreInvalidRequests(_ text: String) {
        do {
            _ = try message(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.code == .invalidRequest)
        }
    }

    @Test func idsAreBoundedAndAnOversizedOneIsNotEchoed() throws {
        let longest = "\"" + String(repeating: "a", count: JSONRPCID.maximumBytes - 2) + "\""
        #expect(try message(#"{"jsonrpc":"2.0","id":\#(longest),"method":"ping"}"#).id?.raw.count == 256)
        let tooLong = "\"" + String(repeating: "a", count: 4 << 20) + "\""
        do {
            _ = try message(#"{"jsonrpc":"2.0","id":\#(tooLong),"method":"ping"}"#)
            Issue.record("a 4 MiB id was accepted")
        } catch {
            #expect(error.code == .invalidRequest)
            #expect(error.responseBytes.count < 512, "the refusal does not echo the id")
            #expect(try JSONScanner.parse(error.responseBytes)["id"] == .null)
        }
        let longNumber = String(repeating: "9", count: 300)
        #expect(throws: JSONRPCError.self) { try message(#"{"jsonrpc":"2.0","id":\#(longNumber),"method":"ping"}"#) }
    }

    @Test func errorResponsesEchoTheIdByteForByte() throws {
        let request = try message(#"{"jsonrpc":"2.0","id":"é1","method":"nope"}"#)
        let bytes = JSONRPCError.methodNotFound("nope", id: request.id).responseBytes
        let response = try JSONScanner.parse(bytes)
        #expect(response["id"]?.stringValue == "é1")
        #expect(response["error"]?["code"]?.intValue == -32601)
    }

    @Test func splitsBatchesIntoElements() throws {
        let parts = try JSONRPCMessage.splitBatch(Array(#" [ {"a":1} , {"b":[2]} ] "#.utf8))
        #expect(parts.map { String(decoding: $0, as: UTF8.self) } == [#"{"a":1}"#, #"{"b":[2]}"#])
        #expect(JSONRPCMessage.isBatch(Array("  [".utf8)))
        #expect(throws: JSONRPCError.self) { try JSONRPCMessage.splitBatch(Array("[]".utf8)) }
    }
}

@Suite struct EnvelopeHardeningTests {
    @Test(arguments: [
        #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{}}"#,
    ])
    func duplicateMembersAreRefused(_ text: String) {
        do {
            _ = try JSONRPCMessage(bytes: Array(text.utf8))
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.code == .invalidRequest)
        }
    }

    @Test(arguments: [
        #"{"jsonrpc":"2.0","id":"a\q","method":"ping"}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":"\u12"}}"#,
    ])
    func invalidEscapesAreParseErrors(_ text: String) {
        do {
            _ = try JSONRPCMessage(bytes: Array(text.utf8))
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.code == .parseError)
        }
    }

    @Test func onlyATopLevelResultTypeCounts() throws {
        let nested = Array(#"{"tools":[{"name":"x","inputSchema":{"properties":{"resultType":{}}}}]}"#.utf8)
        let decorated = try JSONScanner.parse(ResultDecorator.decorate(nested, method: "tools/list"))
        #expect(decorated["resultType"] == "complete")
        #expect(decorated["cacheScope"] == "private")
    }
}
