import GatewayCore
import Testing

@testable import GatewaySession

@Suite struct SessionStateTests {
    @Test func theFirstSubscriberAsksTheUpstreamAndTheLastReleasesIt() {
        let subscriptions = ResourceSubscriptions(perSessionLimit: 2)
        let greeting = ResourceSubscriptions.Key(gatewayID: "g1", uri: "data://greeting")
        let farewell = ResourceSubscriptions.Key(gatewayID: "g1", uri: "data://farewell")
        #expect(subscriptions.add(greeting, session: "a") == .first)
        #expect(subscriptions.add(greeting, session: "a") == .joined)
        #expect(subscriptions.add(greeting, session: "b") == .joined)
        #expect(subscriptions.add(farewell, session: "a") == .first)
        #expect(subscriptions.add(ResourceSubscriptions.Key(gatewayID: "g2", uri: "x"), session: "a") == .overLimit)
        #expect(subscriptions.sessions(for: greeting) == ["a", "b"])
        #expect(!subscriptions.remove(greeting, session: "a"))
        #expect(!subscriptions.remove(greeting, session: "a"), "removing twice changes nothing")
        #expect(subscriptions.remove(greeting, session: "b"))
        #expect(subscriptions.removeAll(session: "a") == [farewell])
        #expect(subscriptions.sessions(for: farewell).isEmpty)
    }

    @Test func streamsRecordEventsAndReplayAfterAnID() async {
        let streams = SessionStreams(
            log: InMemorySessionEventLog(
                limits: .init(
                    eventsPerSession: 16,
                    bytesPerSession: 1 << 20,
                    totalBytes: 1 << 30,
                    maximumSessions: 1000,
                    retention: .seconds(60)
                )
            ),
            retention: .seconds(60)
        )
        let queue = OutboundQueue(capacity: 8)
        streams.attach(queue, session: "s", stream: "g", serverID: nil)
        streams.deliver(Array("1".utf8), session: "s", stream: "g")
        streams.deliver(Array("2".utf8), session: "s", stream: "g")
        let first = await queue.next()
        #expect(first?.data == Array("1".utf8))
        guard let id = first?.id else {
            Issue.record("delivered events carry ids")
            return
        }
        let replay = await streams.replay(session: "s", after: id)
        #expect(replay?.stream == "g")
        #expect(replay?.events.map(\.data) == [Array("2".utf8)])
        #expect(replay?.completed == false)
        // A call stream that ends while nobody listens ends a resuming GET at once.
        streams.deliver(Array("r".utf8), session: "s", stream: "c5", isFinal: true)
        #expect(!streams.attach(OutboundQueue(capacity: 1), session: "s", stream: "c5", serverID: nil))
        streams.forget(session: "s")
        #expect(queue.isFinished)
        #expect(await streams.replay(session: "s", after: id)?.events.isEmpty == true)
    }

    @Test func subscriptionsOfExpiredSessionsAreReleasedAndCapped() {
        let subscriptions = ResourceSubscriptions(perSessionLimit: 2)
        let greeting = ResourceSubscriptions.Key(gatewayID: "g", uri: "data://greeting")
        let farewell = ResourceSubscriptions.Key(gatewayID: "g", uri: "data://farewell")
        #expect(subscriptions.add(greeting, session: "old") == .first)
        #expect(subscriptions.add(farewell, session: "old") == .first)
        #expect(subscriptions.add(.init(gatewayID: "g", uri: "data://third"), session: "old") == .overLimit)
        #expect(subscriptions.add(greeting, session: "young") == .joined)
        #expect(subscriptions.add(greeting, session: "connection") == .joined)
        subscriptions.expires("old", at: 1000)
        subscriptions.expires("young", at: 5000)
        #expect(subscriptions.removeExpired(now: 999).isEmpty)
        // "old" goes: farewell had nobody else (release it), greeting still has watchers.
        #expect(subscriptions.removeExpired(now: 1000) == [farewell])
        #expect(subscriptions.sessions(for: greeting) == ["young", "connection"])
        #expect(subscriptions.removeExpired(now: 6000).isEmpty)
        // A session without a TTL (a connection) keeps its subscription until it ends.
        #expect(subscriptions.sessions(for: greeting) == ["connection"])
    }
}
