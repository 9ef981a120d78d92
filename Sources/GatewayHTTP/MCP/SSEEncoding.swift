import GatewayCore
import NIOCore

/// Writes `text/event-stream` events.
enum SSEEncoding {
    /// One `message` event carrying a JSON-RPC message (with its `id:` when resumable), a
    /// priming event (an id and empty data), or a keep-alive comment. Line breaks in the JSON can
    /// only be whitespace between tokens (inside strings they are escaped), so they become spaces
    /// and the message stays on one `data:` line.
    static func write(_ event: StreamEvent, into buffer: inout ByteBuffer) {
        if event.isKeepAlive {
            buffer.writeStaticString(": keep-alive\n\n")
            return
        }
        if event.data.isEmpty, let id = event.id {
            buffer.writeStaticString("id: ")
            buffer.writeString(id)
            buffer.writeStaticString("\ndata: \n\n")
            return
        }
        buffer.writeStaticString("event: message\n")
        if let id = event.id {
            buffer.writeStaticString("id: ")
            buffer.writeString(id)
            buffer.writeStaticString("\n")
        }
        buffer.writeStaticString("data: ")
        if event.data.contains(where: { $0 == 0x0A || $0 == 0x0D }) {
            buffer.writeBytes(event.data.map { $0 == 0x0A || $0 == 0x0D ? 0x20 : $0 })
        } else {
            buffer.writeBytes(event.data)
        }
        buffer.writeStaticString("\n\n")
    }

    static func buffer(_ event: StreamEvent) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(event.data.count + 32)
        write(event, into: &buffer)
        return buffer
    }
}
