import CHiredis
import NIOCore

/// Turns bytes from Redis into replies with hiredis's RESP reader. Owned by one channel.
final class RESPDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESPValue

    private let reader: UnsafeMutablePointer<redisReader>

    init() throws {
        guard let reader = redisReaderCreate() else {
            throw RedisError(.protocolViolation, "cannot create a RESP reader")
        }
        self.reader = reader
    }

    deinit { redisReaderFree(reader) }

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let fed = buffer.withUnsafeReadableBytes { bytes -> Int32 in
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return REDIS_OK }
            return redisReaderFeed(reader, base.assumingMemoryBound(to: CChar.self), bytes.count)
        }
        buffer.moveReaderIndex(to: buffer.writerIndex)
        guard fed == REDIS_OK else { throw readerError() }
        while true {
            var reply: UnsafeMutableRawPointer?
            guard redisReaderGetReply(reader, &reply) == REDIS_OK else { throw readerError() }
            guard let reply else { return .needMoreData }
            let value = Self.value(reply.assumingMemoryBound(to: redisReply.self))
            freeReplyObject(reply)
            context.fireChannelRead(wrapInboundOut(value))
        }
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }

    private func readerError() -> RedisError {
        RedisError(.protocolViolation, "malformed reply: " + String(cString: chiredis_reader_error(reader)))
    }

    /// Copies a hiredis reply tree into a Swift value.
    static func value(_ reply: UnsafeMutablePointer<redisReply>) -> RESPValue {
        let node = reply.pointee
        switch node.type {
        case REDIS_REPLY_STRING:
            return .bulk(bytes(node.str, node.len))
        case REDIS_REPLY_STATUS:
            return .simple(String(decoding: bytes(node.str, node.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: bytes(node.str, node.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(node.integer)
        case REDIS_REPLY_ARRAY:
            guard let elements = node.element else { return .array([]) }
            return .array((0..<node.elements).compactMap { index in elements[index].map(value) })
        default:
            return .null
        }
    }

    private static func bytes(_ pointer: UnsafeMutablePointer<CChar>?, _ count: Int) -> [UInt8] {
        guard let pointer, count > 0 else { return [] }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: count) {
            Array(UnsafeBufferPointer(start: $0, count: count))
        }
    }
}

/// Formats commands with hiredis's `redisFormatCommandArgv` (binary-safe RESP arrays).
enum RESPEncoder {
    /// Appends `arguments` as one command to `buffer`.
    static func write(_ arguments: [RESPArgument], into buffer: inout ByteBuffer) throws {
        // One contiguous copy of the arguments, so every argv pointer stays valid for the call.
        var joined: [UInt8] = []
        joined.reserveCapacity(arguments.reduce(0) { $0 + $1.bytes.count })
        var lengths: [Int] = []
        lengths.reserveCapacity(arguments.count)
        for argument in arguments {
            joined.append(contentsOf: argument.bytes)
            lengths.append(argument.bytes.count)
        }
        if joined.isEmpty { joined.append(0) }
        let written: Int = joined.withUnsafeBufferPointer { storage -> Int in
            guard let base = storage.baseAddress else { return -1 }
            var pointers: [UnsafePointer<CChar>?] = []
            pointers.reserveCapacity(arguments.count)
            var offset = 0
            for length in lengths {
                pointers.append(UnsafeRawPointer(base + offset).assumingMemoryBound(to: CChar.self))
                offset += length
            }
            var target: UnsafeMutablePointer<CChar>?
            let count = pointers.withUnsafeMutableBufferPointer { argv in
                redisFormatCommandArgv(&target, Int32(arguments.count), argv.baseAddress, lengths)
            }
            guard count >= 0, let target else { return -1 }
            defer { redisFreeCommand(target) }
            target.withMemoryRebound(to: UInt8.self, capacity: Int(count)) {
                _ = buffer.writeBytes(UnsafeBufferPointer(start: $0, count: Int(count)))
            }
            return Int(count)
        }
        guard written >= 0 else { throw RedisError(.protocolViolation, "cannot format a command") }
    }
}
