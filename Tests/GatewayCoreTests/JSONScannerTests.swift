import Testing

@testable import GatewayCore

@Suite struct JSONScannerTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONScanner.parse(#"{"a":[1,-2.5,1e3,true,false,null],"b":"x\"y\\z\n","c":{}}"#)
        #expect(value["a"] == [1, .double(-2.5), .double(1000), true, false, nil])
        #expect(value["b"]?.stringValue == "x\"y\\z\n")
        #expect(value["c"] == .object(JSONObject()))
    }

    @Test func resolvesUnicodeEscapesAndSurrogatePairs() throws {
        let value = try JSONScanner.parse(#""caf\u00e9 \ud83d\ude00""#)
        #expect(value.stringValue == "café 😀")
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"abc", "tru", "{\"a\":1}x", "\"\\ud800\"", "\"\\q\"", "[1 2]",
        "\"a\u{01}b\"",
    ])
    func rejectsMalformedText(_ text: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONScanner.parse(text) }
    }

    @Test func enforcesTheDepthLimitWhileReading() throws {
        let deep = String(repeating: "[", count: 31) + String(repeating: "]", count: 31)
        #expect(throws: JSONSyntaxError.self) { try JSONScanner.parse(deep, maximumDepth: 30) }
        let shallow = String(repeating: "[", count: 30) + String(repeating: "]", count: 30)
        _ = try JSONScanner.parse(shallow, maximumDepth: 30)
    }

    @Test func roundTripsThroughTheWriterKeepingMemberOrder() throws {
        let text = #"{"z":1,"a":{"k":[true,"\u0001"]},"m":null}"#
        let value = try JSONScanner.parse(text)
        #expect(value.serializedString == #"{"z":1,"a":{"k":[true,"\u0001"]},"m":null}"#)
        #expect(try JSONScanner.parse(value.serializedString) == value)
    }
}
