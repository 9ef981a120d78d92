/// One Server-Sent Event.
public struct SSEEvent: Sendable, Equatable {
    public var event: String
    public var data: [UInt8]
    public var id: String?

    public init(event: String = "message", data: [UInt8], id: String? = nil) {
        self.event = event
        self.data = data
        self.id = id
    }
}

/// An incremental `text/event-stream` parser: feed it chunks as they arrive, take complete events.
/// A single event larger than ``maximumEventSize`` is an error, so a hostile stream cannot grow
/// memory without bound.
public struct SSEParser: Sendable {
    var buffer: [UInt8] = []
    var scanned = 0
    var eventName = ""
    var data: [UInt8] = []
    var hasData = false
    var lastID: String?
    public let maximumEventSize: Int

    public init(maximumEventSize: Int = 16 << 20) { self.maximumEventSize = maximumEventSize }

    /// Too much data without an event boundary.
    public struct Overflow: Error, Sendable {}

    /// Adds bytes and returns the events they complete.
    public mutating func feed<Bytes: Sequence>(_ chunk: Bytes) throws(Overflow) -> [SSEEvent]
    where Bytes.Element == UInt8 {
        buffer.append(contentsOf: chunk)
        var events: [SSEEvent] = []
        var lineStart = 0
        var index = scanned
        var resumeAt: Int?
        while index < buffer.count {
            let byte = buffer[index]
            if byte == 0x0A || byte == 0x0D {
                let line = buffer[lineStart..<index]
                if byte == 0x0D, index + 1 == buffer.count {
                    // A CR at the end of the chunk: wait for a possible LF before deciding.
                    resumeAt = index
                    break
                }
                if byte == 0x0D, buffer[index + 1] == 0x0A { index += 1 }
                if let event = processLine(line) { events.append(event) }
                lineStart = index + 1
            }
            index += 1
        }
        let stop = resumeAt ?? buffer.count
        if lineStart > 0 {
            buffer.removeFirst(lineStart)
        }
        scanned = stop - lineStart
        if buffer.count + data.count > maximumEventSize { throw Overflow() }
        return events
    }

    mutating func processLine(_ line: ArraySlice<UInt8>) -> SSEEvent? {
        if line.isEmpty {
            defer {
                eventName = ""
                data = []
                hasData = false
            }
            guard hasData else { return nil }
            return SSEEvent(event: eventName.isEmpty ? "message" : eventName, data: data, id: lastID)
        }
        if line.first == UInt8(ascii: ":") { return nil }
        var field = line[...]
        var value: ArraySlice<UInt8> = []
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            field = line[line.startIndex..<colon]
            value = line[(colon + 1)...]
            if value.first == 0x20 { value = value.dropFirst() }
        }
        switch String(decoding: field, as: UTF8.self) {
        case "event": eventName = String(decoding: value, as: UTF8.self)
        case "data":
            if hasData { data.append(0x0A) }
            data.append(contentsOf: value)
            hasData = true
        case "id": lastID = String(decoding: value, as: UTF8.self)
        default: break
        }
        return nil
    }
}
