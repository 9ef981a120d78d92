import GatewayCore
import NIOCore

/// Writes `text/event-stream` events.
enum SSEEncoding {
    /// One `message` event carrying a JSON-RPC message (with its `id:` when resumable), or a
    /// keep-alive comment for an empty event. Line breaks in the JSON can only be whitespace
    /// between tokens (inside strings they are escaped), so they become spaces and the message
    /// stays on one `data:` line.
    static func write(_ event: StreamEvent, into buffer: inout ByteBuffer) {
        if event.data.isEmpty {
            buffer.writeStaticString(": keep-alive\n\n")
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
