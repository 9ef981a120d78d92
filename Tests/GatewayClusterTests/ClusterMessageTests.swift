import GatewayCore
import Testing

@testable import GatewayCluster

/// The typed messages nodes exchange over Redis: every kind survives the wire, payloads are
/// embedded as they are, and what this build cannot read is not read at all.
@Suite struct ClusterMessageTests {
    static let ticket = PostTicket(node: "abcd1234", number: 42)
    static let everyKind: [ClusterMessage] = [
        .catalogChanged,
        .syncRequested(gatewayID: "g\t1"),
        .revoked(tokenID: "t-1", expiresAt: 1_700_000_000_000),
        .ended(session: "s1", expiresAt: 1_700_000_000_001),
        .cancel(id: JSONRPCID(raw: Array(#""gw-abcd1234-7""#.utf8)), owner: "s1"),
        .event(
            session: "s1",
            LoggedEvent(stream: "c12", sequence: 99, data: Array(#"{"a":"x\ty"}"#.utf8), isFinal: true)
        ),
        .event(session: "s1", LoggedEvent(stream: "g", sequence: 1, data: [], isFinal: false)),
        .answer(id: JSONRPCID(raw: Array("17".utf8)), owner: "s2", reply: .result(Array(#"{"ok":true}"#.utf8))),
        .answer(id: JSONRPCID(raw: Array("18".utf8)), owner: "s2", reply: .error(Array(#"{"code":-1}"#.utf8))),
        .release(session: "s3", stream: "g"),
        .posted(
            PostedMessage(
                session: "k",
                subject: "alice \"a\"",
                serverID: nil,
                hops: "1",
                onBehalfOf: "bob",
                message: #"{"jsonrpc":"2.0","id":1,"method":"ping"}"#
            ),
            ticket: ticket,
            sentAt: 1_700_000_000_002
        ),
        .verdict(.notFound, ticket: ticket),
        .retry(
            InputRoundRetry(
                call: "c0ffee",
                requestID: JSONRPCID(raw: Array("7".utf8)),
                answers: Array(#"{"q1":{"a":1}}"#.utf8)
            ),
            ticket: ticket
        ),
        .retry(
            InputRoundRetry(call: "c0ffee", requestID: JSONRPCID(raw: Array(#""r""#.utf8)), answers: nil),
            ticket: ticket
        ),
        .round(.message(Array(#"{"jsonrpc":"2.0","method":"notifications/progress"}"#.utf8)), ticket: ticket),
        .round(.reply(Array(#"{"jsonrpc":"2.0","id":7,"result":{}}"#.utf8), errorCode: nil), ticket: ticket),
        .round(
            .reply(Array(#"{"jsonrpc":"2.0","id":7,"error":{"code":-32602}}"#.utf8), errorCode: -32602),
            ticket: ticket
        ),
        .retryAbandoned(ticket: ticket),
    ]

    @Test(arguments: everyKind) func everyKindSurvivesTheWire(_ message: ClusterMessage) {
        #expect(ClusterMessage(bytes: message.bytes) == message)
    }

    @Test func payloadsAreEmbeddedAsTheyAre() {
        let event = ClusterMessage.event(
            session: "s",
            LoggedEvent(stream: "g", sequence: 5, data: Array(#"{"jsonrpc":"2.0"}"#.utf8), isFinal: false)
        )
        let text = String(decoding: event.bytes, as: UTF8.self)
        #expect(text.contains(#""data":{"jsonrpc":"2.0"}"#), "\(text)")
        #expect(text.hasPrefix(#"{"v":1,"t":"event""#), "\(text)")
    }

    @Test func whatThisBuildCannotReadIsNotRead() {
        let unreadable = [
            #"{"v":2,"t":"catalog"}"#,  // another version
            #"{"v":1,"t":"teleport"}"#,  // an unknown type
            #"{"v":1,"t":"release","session":"s"}"#,  // a field missing
            #"{"v":1,"t":"event","session":"s","stream":"g","sequence":"x","final":0,"data":{}}"#,  // a wrong type
            "release\ts\tg",  // the tab-separated format of earlier builds
            #"{"v":1,"t":"catalog""#,  // not JSON
        ]
        for text in unreadable {
            #expect(ClusterMessage(bytes: Array(text.utf8)) == nil, "\(text)")
        }
    }
}
