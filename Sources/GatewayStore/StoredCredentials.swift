import GatewayCore

/// How both stores keep a gateway's secrets: its auth (type and headers) and its stdio command
/// (whose environment may hold keys) are JSON text sealed by the ``CredentialCipher``.
enum StoredCredentials {
    /// The stored form of `auth`.
    static func seal(_ auth: UpstreamAuth, cipher: CredentialCipher) throws -> String {
        try cipher.seal(authJSON(auth).serializedString)
    }

    /// The auth in a stored value.
    static func openAuth(_ stored: String, cipher: CredentialCipher) throws -> UpstreamAuth {
        try auth(try JSONScanner.parse(Array(try cipher.open(stored).utf8)))
    }

    /// The stored form of `command`.
    static func seal(_ command: StdioCommand, cipher: CredentialCipher) throws -> String {
        try cipher.seal(command.json.serializedString)
    }

    /// The command in a stored value.
    static func openCommand(_ stored: String, cipher: CredentialCipher) throws -> StdioCommand {
        guard let command = StdioCommand(json: try JSONScanner.parse(Array(try cipher.open(stored).utf8))) else {
            throw StoreError(.corrupt, "column command is not a command")
        }
        return command
    }

    static func authJSON(_ auth: UpstreamAuth) -> JSONValue {
        .object(
            JSONObject([
                ("type", .string(auth.type)),
                ("headers", .array(auth.headers.map { .array([.string($0.name), .string($0.value)]) })),
            ])
        )
    }

    static func auth(_ value: JSONValue) throws -> UpstreamAuth {
        guard let type = value["type"]?.stringValue else { throw StoreError(.corrupt, "gateway auth is unreadable") }
        let headers: [(name: String, value: String)] = (value["headers"]?.arrayValue ?? []).compactMap { pair in
            guard let items = pair.arrayValue, items.count == 2, let name = items[0].stringValue,
                let value = items[1].stringValue
            else { return nil }
            return (name, value)
        }
        return UpstreamAuth(type: type, headers: headers)
    }
}
