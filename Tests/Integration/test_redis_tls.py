"""Cluster mode over Redis with TLS (REDIS_URL=rediss://…): a throwaway CA signs redis-server's
certificate, and a node that trusts that CA (REDIS_TLS_CA_FILE) works through a TLS-only Redis.
The server is always verified: a node that trusts only the system's roots, or a certificate made
out for another host name, leaves the node degraded with a log line that says TLS and why (and
never the password); a CA file that cannot be used stops start-up with one line naming it."""

from __future__ import annotations

import datetime
import ipaddress
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import cluster_servers
import mcp_helpers as h
import postgres_server

NOT_TRUSTED = "the server's certificate is not trusted (unknown CA, or expired)"
WRONG_NAME = "the server's certificate is not valid for this host name or address"


@dataclass
class PKI:
    """A throwaway CA and two server certificates it signed: one for 127.0.0.1 and localhost,
    one for another host name only."""

    ca: Path
    loopback: cluster_servers.RedisTLSFiles
    other_host: cluster_servers.RedisTLSFiles


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def _server_files(
    directory: Path, stem: str, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, names: list[x509.GeneralName]
) -> cluster_servers.RedisTLSFiles:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(f"redis {stem}"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = cluster_servers.RedisTLSFiles(
        certificate=directory / f"{stem}.crt", key=directory / f"{stem}.key", ca=directory / "ca.crt"
    )
    files.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    _write_key(key, files.key)
    return files


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    directory = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("mcpgw test CA"))
        .issuer_name(_name("mcpgw test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (directory / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    loopback = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(h.LOOPBACK))]
    other = [x509.DNSName("redis.other.example")]
    return PKI(
        ca=directory / "ca.crt",
        loopback=_server_files(directory, "loopback", ca, ca_key, loopback),
        other_host=_server_files(directory, "other-host", ca, ca_key, other),
    )


@pytest.fixture(scope="module")
def tls_redis(pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[cluster_servers.RedisServer]:
    """A TLS-only redis-server whose certificate names 127.0.0.1 and localhost."""
    redis = h.or_fail(lambda: cluster_servers.start_redis(tmp_path_factory.mktemp("redis-tls"), tls=pki.loopback))
    yield redis
    redis.stop()


@pytest.fixture(scope="module")
def other_host_redis(pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[cluster_servers.RedisServer]:
    """A TLS-only redis-server whose certificate (from the same CA) names another host only."""
    redis = h.or_fail(lambda: cluster_servers.start_redis(tmp_path_factory.mktemp("redis-other"), tls=pki.other_host))
    yield redis
    redis.stop()


def cluster_env(postgres: postgres_server.PostgresServer, redis_url: str, ca: Path | None) -> dict[str, str]:
    env = {
        "DATABASE_URL": postgres.create_database(f"tls_{uuid.uuid4().hex[:8]}"),
        "REDIS_URL": redis_url,
        "JWT_SECRET_KEY": h.random_secret(),
        "AUTH_ENCRYPTION_SECRET": h.random_secret(),
        "MCPGATEWAY_ADMIN_API_ENABLED": "true",
        "ADMIN_PORT": str(h.free_port()),
        "RATE_LIMIT_ENABLED": "false",
    }
    if ca is not None:
        env["REDIS_TLS_CA_FILE"] = str(ca)
    return env


def ready(node: h.Gateway) -> dict[str, Any]:
    resp = httpx.get(f"{node.base_url}/ready", timeout=5)
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.mark.parametrize("host", [h.LOOPBACK, "localhost"])
def test_node_works_through_redis_over_tls(
    host: str, tmp_path: Path, postgres: postgres_server.PostgresServer, pki: PKI, tls_redis: cluster_servers.RedisServer
) -> None:
    env = cluster_env(postgres, f"rediss://{host}:{tls_redis.port}/0", pki.ca)
    node = h.or_fail(lambda: h.start_gateway(tmp_path / "node", extra_env=env))
    try:
        h.wait_until(lambda: ready(node).get("status") == "ready", timeout=15, what="/ready to say ready")
        admin = f"http://{h.LOOPBACK}:{env['ADMIN_PORT']}"
        auth = {"Authorization": f"Bearer {node.token}"}

        def led_view() -> dict[str, Any] | None:
            resp = httpx.get(f"{admin}/cluster", headers=auth, timeout=5)
            assert resp.status_code == 200, resp.text
            body = resp.json()
            return body if body["nodes"] and body["leader"] else None

        view = h.wait_until(led_view, timeout=15, what="GET /cluster to list the node and a leader")
        assert [n["address"] for n in view["nodes"]] == [f"{h.LOOPBACK}:{node.port}"], view
        assert view["leader"]["id"] == view["nodes"][0]["id"], view
        # The registry and the lease are in the TLS-only Redis (redis-cli over TLS sees them).
        keys = tls_redis.command("KEYS", "mcpgw:*").split()
        assert keys, "no cluster keys in the TLS Redis"
        assert "TLS handshake" not in node.process.log(), node.process.log()
    finally:
        node.stop()


def assert_degraded_by_tls(node: h.Gateway, expected: str, server: str) -> str:
    """Waits for the node's log to say the TLS handshake with `server` failed with `expected`,
    then checks /ready reports Redis unavailable; returns the log."""
    line = f"TLS handshake with {server} failed: {expected}"
    h.wait_until(lambda: line in node.process.log(), timeout=15, what=f"the log line {line!r}")
    body = ready(node)
    assert body["status"] == "degraded", body
    assert any("Redis unavailable" in detail for detail in body["detail"]), body
    return node.process.log()


def test_system_roots_do_not_trust_the_test_ca(
    tmp_path: Path, postgres: postgres_server.PostgresServer, tls_redis: cluster_servers.RedisServer
) -> None:
    password = f"pw{uuid.uuid4().hex}"
    env = cluster_env(postgres, f"rediss://:{password}@{h.LOOPBACK}:{tls_redis.port}/0", None)
    node = h.or_fail(lambda: h.start_gateway(tmp_path / "node", extra_env=env))
    try:
        log = assert_degraded_by_tls(node, NOT_TRUSTED, f"{h.LOOPBACK}:{tls_redis.port}")
        assert password not in log, log
    finally:
        node.stop()


@pytest.mark.parametrize("host", [h.LOOPBACK, "localhost"])
def test_certificate_for_another_host_is_refused(
    host: str,
    tmp_path: Path,
    postgres: postgres_server.PostgresServer,
    pki: PKI,
    other_host_redis: cluster_servers.RedisServer,
) -> None:
    env = cluster_env(postgres, f"rediss://{host}:{other_host_redis.port}/0", pki.ca)
    node = h.or_fail(lambda: h.start_gateway(tmp_path / "node", extra_env=env))
    try:
        assert_degraded_by_tls(node, WRONG_NAME, f"{host}:{other_host_redis.port}")
    finally:
        node.stop()


def run_to_exit(workdir: Path, env: dict[str, str]) -> tuple[int, str]:
    """Starts `mcpgateway serve` with `env`; returns its exit code and output once it exits."""
    binary = h.check_gateway_binary()
    full = h.gateway_env(h.free_port(), workdir, h.random_secret())
    full.update(env)
    proc = h.spawn("gateway-refused", [str(binary), "serve"], log_dir=workdir, env=full)
    try:
        code = proc.popen.wait(timeout=30)
    finally:
        proc.stop()
    return code, proc.log()


def test_unusable_ca_file_stops_start_up(tmp_path: Path, pki: PKI) -> None:
    not_pem = tmp_path / "not-a-certificate.pem"
    not_pem.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
    base = {
        "REDIS_URL": f"rediss://{h.LOOPBACK}:{h.closed_port()}/0",
        "JWT_SECRET_KEY": h.random_secret(),
        "AUTH_ENCRYPTION_SECRET": h.random_secret(),
    }
    cases = [
        ({"REDIS_TLS_CA_FILE": str(tmp_path / "missing.pem")}, "REDIS_TLS_CA_FILE cannot be read"),
        ({"REDIS_TLS_CA_FILE": str(not_pem)}, "REDIS_TLS_CA_FILE is not a PEM file of certificates"),
        (
            {"REDIS_TLS_CA_FILE": str(pki.ca), "REDIS_URL": f"redis://{h.LOOPBACK}:{h.closed_port()}/0"},
            "REDIS_TLS_CA_FILE is only used with REDIS_URL=rediss://",
        ),
    ]
    for index, (env, message) in enumerate(cases):
        code, log = run_to_exit(tmp_path / f"case-{index}", {**base, **env})
        assert code != 0, log
        lines = [line for line in log.splitlines() if "REDIS_TLS_CA_FILE" in line]
        assert len(lines) == 1 and message in lines[0], log


def test_plain_redis_port_is_not_taken_for_tls(
    tmp_path: Path, postgres: postgres_server.PostgresServer, pki: PKI
) -> None:
    plain = h.or_fail(lambda: cluster_servers.start_redis(tmp_path / "redis-plain"))
    try:
        env = cluster_env(postgres, f"rediss://{h.LOOPBACK}:{plain.port}/0", pki.ca)
        node = h.or_fail(lambda: h.start_gateway(tmp_path / "node", extra_env=env))
        try:
            assert_degraded_by_tls(node, "the server did not answer in TLS", f"{h.LOOPBACK}:{plain.port}")
        finally:
            node.stop()
    finally:
        plain.stop()
