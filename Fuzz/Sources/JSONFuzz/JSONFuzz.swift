import CFuzzerDriver
import GatewayCore

/// The program's entry (SwiftPM names an executable's entry `<target>_main`): hands control to
/// libFuzzer's driver with ``fuzzOneInput(_:_:)`` as the target.
@_cdecl("JSONFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        guard let data else { return 0 }
        return fuzzOneInput(UnsafeRawPointer(data), size)
    }
}

/// libFuzzer entry: every input must end in a value or a typed error. A document that parses
/// must serialise to one that parses again, and the envelope decoder's ranges must lie inside
/// the input. A crash, a hang or a failed precondition is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: data, count: count))
    if let value = try? JSONScanner.parse(bytes, maximumDepth: 30) {
        precondition(
            (try? JSONScanner.parse(value.serializedBytes, maximumDepth: 30)) != nil,
            "a parsed value did not re-parse"
        )
    }
    if JSONRPCMessage.isBatch(bytes) {
        for element in (try? JSONRPCMessage.splitBatch(bytes, maximumDepth: 30)) ?? [] {
            _ = try? JSONRPCMessage(bytes: element, maximumDepth: 30)
        }
    } else if let message = try? JSONRPCMessage(bytes: bytes, maximumDepth: 30) {
        for range in [message.params, message.result, message.error].compactMap({ $0 }) {
            precondition(
                range.lowerBound >= 0 && range.upperBound <= message.bytes.count,
                "a range lies outside the input"
            )
        }
        _ = try? ValidationRules().checkLimits(of: message)
        _ = message.paramMembers()
    }
    _ = ValidationRules.dangerousMarkup(in: String(decoding: bytes, as: UTF8.self))
    return 0
}
