import GatewayAuth
import GatewayCore
import GatewayHTTP

/// The identity propagation keys of the configuration, read as `serve` uses them: the signer of
/// assertions to peers (`IDENTITY_PROPAGATION_ENABLED` with its private key) and the checker of
/// a trusted federating gateway's assertions (`IDENTITY_PROPAGATION_TRUSTED_KEY_FILE`).
struct IdentityKeys {
    var asserter: IdentityAsserter?
    var verifier: IdentityVerifier?

    /// - Throws: ``ConfigurationError`` naming the variable whose file is not a P-256 PEM key.
    init(_ configuration: GatewayConfiguration, federation: Federation) async throws {
        if let pem = configuration.federation.identitySigningKey {
            do {
                asserter = try await IdentityAsserter(privateKeyPEM: pem, issuer: federation.gatewayID)
            } catch {
                throw ConfigurationError("IDENTITY_PROPAGATION_PRIVATE_KEY_FILE is not a PEM P-256 (ES256) private key")
            }
        }
        if let pem = configuration.federation.trustedIdentityKey {
            do {
                verifier = try await IdentityVerifier(publicKeyPEM: pem, audience: federation.gatewayID)
            } catch {
                throw ConfigurationError("IDENTITY_PROPAGATION_TRUSTED_KEY_FILE is not a PEM P-256 (ES256) public key")
            }
        }
    }
}

/// Reads the identity propagation keys as `serve` does (for `mcpgateway check-config`): a key
/// that is not a P-256 key in PEM stops it with the reason.
public func checkIdentityKeys(_ configuration: GatewayConfiguration) async throws {
    _ = try await IdentityKeys(configuration, federation: Federation(gatewayID: "check-config", name: ""))
}
