import GatewayCore
import Testing

@Suite struct ValidationRulesTests {
    let rules = ValidationRules()

    @Test(arguments: [
        "<script>alert(1)</script>", "</SCRIPT>", "<img src=x onerror=alert(1)>", "<svg/onload=alert(1)>",
        "<a href='javascript:alert(1)'>x</a>", "<div onclick = 'steal()'>", "<iframe src=//evil>", "JaVaScRiPt:void(0)",
        "data:text/html;base64,PHNjcmlwdD4=", "<b onmouseover=\"x\">hover</b>", "<style>*{}</style>",
        "<meta http-equiv=refresh>",
    ])
    func markupThatRunsScriptIsFound(_ text: String) {
        #expect(ValidationRules.dangerousMarkup(in: text) != nil, "\(text)")
        #expect(rules.descriptionProblem(text) != nil)
    }

    @Test(arguments: [
        "Returns List<String>", "when a < b and c > d", "x<y>z", "<b>bold</b> is fine", "an <h1> heading",
        "the online=true flag", "<p class=one>text</p>", "emails like <someone@example.com>", "Map<String, List<Int>>",
    ])
    func harmlessTextPasses(_ text: String) {
        #expect(ValidationRules.dangerousMarkup(in: text) == nil, "\(text)")
    }

    @Test func namesFollowContextForgesPattern() {
        for good in ["demo", "My Gateway 2", "a_b-c.d"] { #expect(rules.nameProblem(good) == nil) }
        for bad in ["", "a/b", "semi;colon", "<x>", "tab\tname", "é", String(repeating: "n", count: 256)] {
            #expect(rules.nameProblem(bad) != nil, "\(bad)")
        }
    }

    @Test func toolNamesFollowTheToolPattern() {
        for good in ["echo", "_private", "a.b/c-d", "9lives", String(repeating: "t", count: 128)] {
            #expect(rules.toolNameProblem(good) == nil, "\(good)")
        }
        for bad in [
            "", "-dash", ".dot", "/slash", "bad name", "semi;colon", "ünicode", String(repeating: "t", count: 129),
        ] {
            #expect(rules.toolNameProblem(bad) != nil, "\(bad)")
        }
    }

    @Test func mimeTypesAreCheckedWithoutParameters() {
        #expect(rules.allows(mimeType: "text/plain"))
        #expect(rules.allows(mimeType: "Text/Plain; charset=utf-8"))
        #expect(!rules.allows(mimeType: "text/html"))
        #expect(!rules.allows(mimeType: "image/svg+xml"))
        #expect(!rules.allows(mimeType: "application/x-evil"))
    }

    func message(_ params: String) throws -> JSONRPCMessage {
        try JSONRPCMessage(bytes: Array(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":\#(params)}"#.utf8))
    }

    @Test func requestLimitsHoldParamsAndForwardedMeta() throws {
        var small = ValidationRules()
        small.maximumParamsBytes = 64
        #expect(throws: JSONRPCError.self) {
            try small.checkLimits(of: try message(#"{"name":"\#(String(repeating: "x", count: 80))"}"#))
        }
        try rules.checkLimits(of: try message(#"{"name":"t","_meta":{"progressToken":1,"a":{"b":2}}}"#))
        // The protocol's own envelope keys may nest deeper; they are not forwarded.
        try rules.checkLimits(
            of: try message(
                #"{"name":"t","_meta":{"io.modelcontextprotocol/clientCapabilities":{"elicitation":{"form":{}}}}}"#
            )
        )
        #expect(throws: JSONRPCError.self) { try rules.checkLimits(of: try message(#"{"_meta":{"a":{"b":{"c":1}}}}"#)) }
        #expect(throws: JSONRPCError.self) { try rules.checkLimits(of: try message(#"{"_meta":[1]}"#)) }
        let seventeen = (0..<17).map { #""k\#($0)":\#($0)"# }.joined(separator: ",")
        #expect(throws: JSONRPCError.self) { try rules.checkLimits(of: try message(#"{"_meta":{\#(seventeen)}}"#)) }
        #expect(throws: JSONRPCError.self) {
            try rules.checkLimits(of: try message(#"{"_meta":{"blob":"\#(String(repeating: "y", count: 5000))"}}"#))
        }
    }
}
