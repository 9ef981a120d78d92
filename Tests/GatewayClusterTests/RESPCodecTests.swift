import NIOCore
import NIOEmbedded
import Testing

@testable import GatewayCluster

/// The RESP layer (hiredis's formatter and reader behind a NIO decoder), without a Redis server;
/// the integration tests run it against a real one.
@Suite struct RESPCodecTests {
    @Test func formatsBinarySafeCommands() throws {
        var buffer = ByteBuffer()
        try RESPEncoder.write(["SET", RESPArgument([0x00, 0x0D, 0x0A]), RESPArgument("")], into: &buffer)
        let expected = Array("*3\r\n$3\r\nSET\r\n$3\r\n".utf8) + [0x00, 0x0D, 0x0A] + Array("\r\n$0\r\n\r\n".utf8)
        #expect(Array(buffer.readableBytesView) == expected)
    }

    @Test func decodesEveryReplyTypeAcrossSplitReads() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(try RESPDecoder()))
        let wire = "+OK\r\n-ERR nope\r\n:42\r\n$5\r\nhe\r\no\r\n$-1\r\n*2\r\n$1\r\na\r\n*1\r\n:7\r\n"
        // One byte at a time: the reader must keep partial replies between reads.
        for byte in wire.utf8 { try channel.writeInbound(ByteBuffer(bytes: [byte])) }
        var replies: [RESPValue] = []
        while let reply = try channel.readInbound(as: RESPValue.self) { replies.append(reply) }
        #expect(
            replies == [
                .simple("OK"), .error("ERR nope"), .integer(42), .bulk(Array("he\r\no".utf8)), .null,
                .array([.bulk([UInt8(ascii: "a")]), .array([.integer(7)])]),
            ]
        )
        _ = try channel.finish()
    }

    @Test func refusesMalformedReplies() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(try RESPDecoder()))
        #expect(throws: (any Error).self) { try channel.writeInbound(ByteBuffer(string: "?what\r\n")) }
        _ = try? channel.finish()
    }

    @Test func parsesRedisURLs() throws {
        let url = "redis://user:p%40ss@cache.internal:6380/3"  // pragma: allowlist secret
        let full = try RedisEndpoint.parse(url)
        #expect(
            full == RedisEndpoint(host: "cache.internal", port: 6380, username: "user", password: "p@ss", database: 3)
        )
        #expect(
            try RedisEndpoint.parse("redis://:secret@127.0.0.1") == RedisEndpoint(host: "127.0.0.1", password: "secret")
        )
        #expect(try RedisEndpoint.parse("redis://[::1]:7000/0") == RedisEndpoint(host: "::1", port: 7000))
        // rediss:// is Redis over TLS (verified against the system's roots unless a CA file is given).
        #expect(try RedisEndpoint.parse("rediss://h").tls == RedisTLS())
        #expect(try RedisEndpoint.parse("redis://h").tls == nil)
        for bad in [
            "http://x", "redis://", "redis://h:0", "redis://h/16", "redis://h:port", "rediss://h:0", "redis://:%zz@h",
        ] {
            #expect(throws: RedisEndpointError.self) { try RedisEndpoint.parse(bad) }
        }
        do {
            _ = try RedisEndpoint.parse("redis://:hunter2@h:99999")
        } catch {
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test func readsLeaderRecords() {
        #expect(LeaderLease.parse("node-a|7|1764115200000")! == ("node-a", 7, 1_764_115_200_000))
        #expect(LeaderLease.parse("pending") == nil)
        #expect(LeaderLease.parse("a|x|1") == nil)
    }
}
