import GatewayCore
import Testing

/// Property-based tests of the hand-written JSON scanner and JSON-RPC envelope decoder, with a
/// seeded generator (the seed is in every failure message, so a failure replays exactly):
/// generated documents round-trip, nesting beyond the limit is refused at any depth, and
/// thousands of mutated messages end in a value or a typed error — never a crash or a hang.
@Suite struct JSONPropertyTests {
    /// SplitMix64: small, fast, and the same sequence on every platform.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
        mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    }

    static let alphabet: [Unicode.Scalar] = [
        "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "€", "\u{FFFF}", "😀",
        "\u{2028}",
    ]

    static func string(_ random: inout Generator) -> String {
        var text = String.UnicodeScalarView()
        for _ in 0..<random.below(12) { text.append(alphabet[random.below(alphabet.count)]) }
        return String(text)
    }

    static func value(_ random: inout Generator, depth: Int) -> JSONValue {
        let kind = depth >= 6 ? random.below(4) : random.below(6)
        switch kind {
        case 0: return .null
        case 1: return .bool(random.chance(50))
        case 2: return .int(Int64(bitPattern: random.next()) >> Int64(random.below(63)))
        case 3: return .string(string(&random))
        case 4: return .array((0..<random.below(5)).map { _ in value(&random, depth: depth + 1) })
        default:
            var object = JSONObject()
            for index in 0..<random.below(5) {
                object["\(string(&random))#\(index)"] = value(&random, depth: depth + 1)
            }
            return .object(object)
        }
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func generatedDocumentsRoundTrip(seed: UInt64) throws {
        var random = Generator(state: seed)
        for round in 0..<500 {
            let original = Self.value(&random, depth: 0)
            let parsed = try JSONScanner.parse(original.serializedBytes)
            #expect(parsed == original, "seed \(seed) round \(round): \(original.serializedString)")
        }
    }

    @Test func nestingIsRefusedExactlyBeyondTheLimit() {
        for depth in 1...64 {
            let document = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            let accepted = (try? JSONScanner.parse(document, maximumDepth: 30)) != nil
            #expect(accepted == (depth <= 30), "depth \(depth)")
            let object = String(repeating: "{\"k\":", count: depth) + "1" + String(repeating: "}", count: depth)
            #expect(
                ((try? JSONScanner.parse(object, maximumDepth: 30)) != nil) == (depth <= 30),
                "object depth \(depth)"
            )
        }
    }

    static let seeds: [[UInt8]] = [
        Array(
            #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a-echo","arguments":{"text":"hi"},"_meta":{"progressToken":"p"}}}"#
                .utf8
        ),
        Array(
            #"{"jsonrpc":"2.0","id":"x","result":{"content":[{"type":"text","text":"\u00e9\n"}],"isError":false}}"#.utf8
        ),
        Array(
            #"[{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}},{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"m"}}]"#
                .utf8
        ),
    ]

    static let punctuation = Array("{}[]\",:\\0-eE.tfn ".utf8)

    static func mutate(_ bytes: [UInt8], _ random: inout Generator) -> [UInt8] {
        var bytes = bytes
        for _ in 0...random.below(4) {
            guard !bytes.isEmpty else { break }
            let at = random.below(bytes.count)
            switch random.below(6) {
            case 0: bytes[at] = UInt8(truncatingIfNeeded: random.next())
            case 1: bytes.remove(at: at)
            case 2: bytes.insert(Self.punctuation[random.below(Self.punctuation.count)], at: at)
            case 3: bytes = Array(bytes[..<at])
            case 4: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + random.below(16))], at: at)
            default: bytes[at] = [0x00, 0x80, 0xC0, 0xED, 0xF4, 0xFF][random.below(6)]
            }
        }
        return bytes
    }

    /// Equal as JSON: numbers compare by value (`1e2` is written back as `100`).
    static func equivalent(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.int(let integer), .double(let double)), (.double(let double), .int(let integer)):
            return Double(integer) == double
        case (.array(let left), .array(let right)):
            return left.count == right.count && zip(left, right).allSatisfy { equivalent($0, $1) }
        case (.object(let left), .object(let right)):
            return left.members.count == right.members.count
                && zip(left.members, right.members).allSatisfy { $0.key == $1.key && equivalent($0.value, $1.value) }
        default:
            return lhs == rhs
        }
    }

    @Test func numbersBeyondDoubleRangeAreRefused() {
        for text in ["1e400", "-3e2601", "[1E999]"] { #expect((try? JSONScanner.parse(text)) == nil, "\(text)") }
        #expect((try? JSONScanner.parse("1.7976931348623157e308")) != nil)
    }

    @Test(arguments: [UInt64(11), 12, 13, 14])
    func mutatedMessagesEndInAValueOrATypedError(seed: UInt64) {
        var random = Generator(state: seed)
        var decoded = 0
        for _ in 0..<2500 {
            let bytes = Self.mutate(Self.seeds[random.below(Self.seeds.count)], &random)
            // Typed throws: a failure can only be a JSONSyntaxError / JSONRPCError.
            if let value = try? JSONScanner.parse(bytes, maximumDepth: 30) {
                let reparsed = try? JSONScanner.parse(value.serializedBytes)
                #expect(reparsed.map { Self.equivalent($0, value) } == true, "seed \(seed): \(bytes)")
            }
            if JSONRPCMessage.isBatch(bytes) {
                for element in (try? JSONRPCMessage.splitBatch(bytes, maximumDepth: 30)) ?? [] {
                    _ = try? JSONRPCMessage(bytes: element, maximumDepth: 30)
                }
            } else if let message = try? JSONRPCMessage(bytes: bytes, maximumDepth: 30) {
                decoded += 1
                for range in [message.params, message.result, message.error].compactMap({ $0 }) {
                    #expect(range.lowerBound >= 0 && range.upperBound <= message.bytes.count, "seed \(seed): \(bytes)")
                }
                #expect(message.kind != .request || message.method != nil)
            }
        }
        #expect(decoded > 0, "no mutation of seed \(seed) decoded: the generator mutates too much to test anything")
    }
}
