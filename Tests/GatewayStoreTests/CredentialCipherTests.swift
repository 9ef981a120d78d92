import GatewayCore
import Testing

@testable import GatewayStore

@Suite struct CredentialCipherTests {
    let secret = String(repeating: "s", count: 40)

    @Test func sealedValuesOpenAndHideThePlaintext() throws {
        let cipher = CredentialCipher(secret: secret)
        let sealed = try cipher.seal(#"{"headers":[["Authorization","Bearer tok3n"]]}"#)
        #expect(sealed.hasPrefix("enc:v1:"))
        #expect(!sealed.contains("tok3n"))
        #expect(try cipher.open(sealed) == #"{"headers":[["Authorization","Bearer tok3n"]]}"#)
        // Two seals of one value differ (fresh nonce).
        #expect(try cipher.seal("x") != (try cipher.seal("x")))
    }

    @Test func anotherSecretOrATamperedValueDoesNotOpen() throws {
        let sealed = try CredentialCipher(secret: secret).seal("value")
        #expect(throws: StoreError.self) {
            try CredentialCipher(secret: String(repeating: "t", count: 40)).open(sealed)
        }
        var bytes = Array(sealed.utf8)
        bytes[bytes.count - 3] = bytes[bytes.count - 3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(throws: StoreError.self) {
            try CredentialCipher(secret: secret).open(String(decoding: bytes, as: UTF8.self))
        }
        #expect(throws: StoreError.self) { try CredentialCipher(secret: secret).open("enc:v1:not base64!") }
    }

    @Test func thePreviousSecretStillOpensDuringRotation() throws {
        let old = try CredentialCipher(secret: secret).seal("value")
        let rotating = CredentialCipher(secret: String(repeating: "n", count: 40), previousSecrets: [secret])
        #expect(try rotating.open(old) == "value")
        #expect(try rotating.open(try rotating.seal("new")) == "new")
    }

    @Test func valuesFromBeforeEncryptionAreReadAsTheyAre() throws {
        #expect(try CredentialCipher(secret: secret).open(#"{"type":"none"}"#) == #"{"type":"none"}"#)
    }
}
