import Testing

@testable import GatewayCore

@Suite struct ToolResultTests {
    @Test(arguments: [
        (#"{"content":[{"type":"text","text":"x"}],"isError":true}"#, true),
        (#"{"isError":true,"content":[]}"#, true),
        (#"{"content":[{"type":"text","text":"\"isError\":true"}]}"#, false),
        (#"{"content":[],"isError":false}"#, false),
        (#"{"structuredContent":{"isError":true},"content":[]}"#, false),
        (#"{"content":[],"isError":"true"}"#, false),
        (#"{"content":[],"isError":tru"#, false),
        (#"[1,2]"#, false),
        ("", false),
    ])
    func onlyATopLevelTrueIsAToolError(result: String, expected: Bool) {
        #expect(ToolResult.isError(Array(result.utf8)) == expected)
    }
}
