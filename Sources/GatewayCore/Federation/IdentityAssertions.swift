/// Signs short-lived statements of who a forwarded call is for, sent to peers beside the
/// federating gateway's own token (identity propagation, off by default). Implemented where the
/// JWT library is (GatewayAuth).
public protocol IdentityAsserting: Sendable {
    /// A compact JWT saying `subject` makes this call through this gateway, for the peer whose
    /// gateway id is `audience`, bound to `credential` (the `Authorization` value sent with it,
    /// so that nobody who sees the assertion can present it with another token); `nil` when it
    /// cannot be signed (the call goes without it).
    func assertion(subject: String, audience: String, credential: String) async -> String?
}

extension Federation {
    /// The request header carrying an identity assertion to a peer.
    public static let identityHeader = "MCP-Gateway-Identity"
}
