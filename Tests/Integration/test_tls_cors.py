"""TLS terminated by the gateway itself (SSL, CERT_FILE, KEY_FILE) with HSTS, and CORS for an
explicit list of origins only (none by default)."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import time
from pathlib import Path

import httpx
import pytest

import mcp_helpers as h

APP = "https://app.example.com"


def self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_file, key_file


def test_tls_in_the_gateway_with_hsts(tmp_path: Path) -> None:
    cert_file, key_file = self_signed(tmp_path)
    port = h.free_port()
    env = h.gateway_env(port, tmp_path, h.random_secret())
    env.update(SSL="true", CERT_FILE=str(cert_file), KEY_FILE=str(key_file))
    proc = h.spawn(f"gateway-tls-{port}", [str(h.check_gateway_binary()), "serve"], log_dir=tmp_path, env=env)
    try:
        base = f"https://{h.LOOPBACK}:{port}"
        trust = ssl.create_default_context(cafile=str(cert_file))
        deadline = time.monotonic() + 20
        while True:
            assert proc.running(), proc.log()
            try:
                ready = httpx.get(f"{base}/ready", verify=trust, timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, proc.log()
                time.sleep(0.1)
        assert ready.status_code == 200
        assert ready.headers["strict-transport-security"].startswith("max-age=")
        gateway = h.Gateway(binary=h.check_gateway_binary(), port=port, env=env, process=proc, workdir=tmp_path)
        token = h.mint_token(gateway)
        tools = httpx.get(f"{base}/tools", headers={"Authorization": f"Bearer {token}"}, verify=trust)
        assert tools.status_code == 200
        # Plain HTTP on the TLS port gets nowhere.
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://{h.LOOPBACK}:{port}/ready", timeout=5)
    finally:
        proc.stop()


def test_bad_tls_settings_stop_start_up(tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("not a certificate")
    for env, message in [
        ({"SSL": "true"}, "CERT_FILE and KEY_FILE"),
        ({"SSL": "true", "CERT_FILE": str(tmp_path / "junk.pem"), "KEY_FILE": str(tmp_path / "junk.pem")}, "PEM"),
        ({"CORS_ALLOWED_ORIGINS": "*"}, "CORS_ALLOWED_ORIGINS"),
        ({"CORS_ALLOWED_ORIGINS": "https://app.example.com/path"}, "CORS_ALLOWED_ORIGINS"),
    ]:
        with pytest.raises(RuntimeError, match=message):
            h.start_gateway(tmp_path, extra_env=env, ready_timeout=10)


def test_no_cors_by_default(gateway: h.Gateway) -> None:
    resp = httpx.get(f"{gateway.base_url}/tools", headers={"Origin": APP, "Authorization": f"Bearer {gateway.token}"})
    assert resp.status_code == 200 and "access-control-allow-origin" not in resp.headers
    preflight = httpx.options(f"{gateway.base_url}/mcp", headers={"Origin": APP, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_for_listed_origins_only(tmp_path: Path) -> None:
    gateway = h.or_fail(lambda: h.start_gateway(tmp_path, extra_env={"CORS_ALLOWED_ORIGINS": f"{APP}, http://localhost:3000"}))
    try:
        preflight = httpx.options(f"{gateway.base_url}/mcp", headers={
            "Origin": APP, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, mcp-session-id"})
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == APP
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert "authorization" in allowed and "mcp-session-id" in allowed
        assert "access-control-allow-credentials" not in preflight.headers

        ok = httpx.get(f"{gateway.base_url}/tools", headers={"Origin": APP, "Authorization": f"Bearer {gateway.token}"})
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == APP
        assert "mcp-session-id" in ok.headers["access-control-expose-headers"].lower()
        refused = httpx.get(f"{gateway.base_url}/tools", headers={"Origin": APP})
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == APP

        for other in ["https://evil.example.com", "https://app.example.com.evil.net", "null"]:
            resp = httpx.get(f"{gateway.base_url}/tools", headers={"Origin": other, "Authorization": f"Bearer {gateway.token}"})
            assert "access-control-allow-origin" not in resp.headers, other
            pre = httpx.options(f"{gateway.base_url}/mcp", headers={"Origin": other, "Access-Control-Request-Method": "POST"})
            assert pre.status_code != 204 and "access-control-allow-origin" not in pre.headers, other
    finally:
        gateway.stop()
