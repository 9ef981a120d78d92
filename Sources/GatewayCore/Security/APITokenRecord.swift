/// An API token created through `POST /tokens`. The token itself (a signed JWT) is shown once,
/// at creation; the store keeps only what lists and revokes it. Its `id` is the JWT's `jti`.
public struct APITokenRecord: Sendable, Equatable {
    public var id: String
    /// The owner: the subject of the token that created it, and the subject of this token.
    public var subject: String
    public var name: String
    public var description: String?
    /// The one virtual server this token may reach, when it is scoped.
    public var serverID: String?
    public var createdAt: Timestamp
    public var expiresAt: Timestamp
    public var revokedAt: Timestamp?
    /// The `jti` of the token that minted this one: revoking that token revokes this one (and
    /// what this one minted) with it. `nil` for tokens of unknown origin.
    public var parentID: String?

    public init(
        id: String,
        subject: String,
        name: String,
        description: String?,
        serverID: String?,
        createdAt: Timestamp,
        expiresAt: Timestamp,
        revokedAt: Timestamp? = nil,
        parentID: String? = nil
    ) {
        self.id = id
        self.subject = subject
        self.name = name
        self.description = description
        self.serverID = serverID
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.parentID = parentID
    }
}

/// A revoked token that has not expired yet: until `expiresAt` it must be refused.
public struct TokenRevocation: Sendable, Hashable {
    public var tokenID: String
    public var expiresAt: Timestamp

    public init(tokenID: String, expiresAt: Timestamp) {
        self.tokenID = tokenID
        self.expiresAt = expiresAt
    }
}
