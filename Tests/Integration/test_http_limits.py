"""HTTP hardening below the routes: oversized or too many request headers get 431, a client
that never finishes its request head is disconnected after HTTP_IDLE_TIMEOUT, a body that
trickles in gets 408 after BODY_READ_TIMEOUT — and long-lived streams are not cut by either."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

import mcp_helpers as h


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Gateway]:
    # The body deadline is below the idle timeout (as by default: 30 s and 60 s), so a stalled
    # body is answered with 408 before the idle connection would be dropped.
    env = {"HTTP_IDLE_TIMEOUT": "3", "BODY_READ_TIMEOUT": "1", "SSE_KEEPALIVE_INTERVAL": "1",
           "MAX_HEADER_BYTES": "8192", "MAX_HEADER_COUNT": "50"}
    gateway = h.or_fail(lambda: h.start_gateway(tmp_path_factory.mktemp("limits"), extra_env=env))
    yield gateway
    gateway.stop()


def raw(gateway: h.Gateway) -> socket.socket:
    return socket.create_connection((h.LOOPBACK, gateway.port), timeout=10)


def read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    started, data = time.monotonic(), b""
    sock.settimeout(limit)
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data, time.monotonic() - started


def test_oversized_and_too_many_headers_are_431(gateway: h.Gateway) -> None:
    assert httpx.get(f"{gateway.base_url}/health", headers={"X-Fine": "a" * 1000}).status_code == 200
    big = httpx.get(f"{gateway.base_url}/health", headers={"X-Big": "a" * 9000})
    assert big.status_code == 431
    many = httpx.get(f"{gateway.base_url}/health", headers={f"X-H{i}": "v" for i in range(60)})
    assert many.status_code == 431
    assert httpx.get(f"{gateway.base_url}/health").status_code == 200  # the gateway is fine afterwards


def test_a_request_head_that_never_ends_is_dropped(gateway: h.Gateway) -> None:
    with raw(gateway) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n")  # no blank line, ever
        data, elapsed = read_until_closed(sock, 10)
    assert data == b"" and 2.5 <= elapsed <= 7, (data, elapsed)


def test_a_trickling_body_gets_408(gateway: h.Gateway) -> None:
    for path in ["/servers", "/mcp"]:
        with raw(gateway) as sock:
            head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {gateway.token}\r\n"
                    "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
                    "Content-Length: 100\r\n\r\n")
            sock.sendall(head.encode() + b'{"name": ')
            data, elapsed = read_until_closed(sock, 10)
        assert data.startswith(b"HTTP/1.1 408"), (path, data[:300])
        assert elapsed <= 7, (path, elapsed)


def test_streams_outlive_the_idle_timeout(gateway: h.Gateway) -> None:
    with httpx.Client(headers={"Authorization": f"Bearer {gateway.token}"}, timeout=10) as http:
        session, _ = h.legacy_initialize(http, gateway.mcp_url)
        headers = {"Accept": "text/event-stream", "Mcp-Session-Id": session, "MCP-Protocol-Version": h.LEGACY_VERSION}
        started, keepalives = time.monotonic(), 0
        with http.stream("GET", gateway.mcp_url, headers=headers) as stream:
            assert stream.status_code == 200
            for line in stream.iter_lines():
                keepalives += line.startswith(":")
                if time.monotonic() - started > 6.5:
                    break
        assert keepalives >= 5 and time.monotonic() - started > 6.5


def test_concurrent_requests_per_client_are_capped(tmp_path: Path) -> None:
    env = {"MAX_CONCURRENT_REQUESTS_PER_CLIENT": "2", "SSE_KEEPALIVE_INTERVAL": "1"}
    gateway = h.or_fail(lambda: h.start_gateway(tmp_path, extra_env=env))
    try:
        auth = {"Authorization": f"Bearer {gateway.token}"}
        other = {"Authorization": f"Bearer {h.mint_token(gateway, 'other@example.com', admin=False)}"}
        with httpx.Client(headers=auth, timeout=10) as http:
            streams = []
            for _ in range(2):
                session, _ = h.legacy_initialize(http, gateway.mcp_url)
                headers = {"Accept": "text/event-stream", "Mcp-Session-Id": session,
                           "MCP-Protocol-Version": h.LEGACY_VERSION}
                stream = http.stream("GET", gateway.mcp_url, headers=headers)
                assert stream.__enter__().status_code == 200
                streams.append(stream)
            refused = http.get(f"{gateway.base_url}/tools")
            problem = h.assert_problem(refused, 429)
            assert "at most 2" in problem["detail"] and refused.headers["retry-after"] == "1"
            # Another client is not affected.
            assert httpx.get(f"{gateway.base_url}/tools", headers=other, timeout=10).status_code == 200
            streams.pop().__exit__(None, None, None)
            # The closed stream's slot comes back once the gateway notices (next keep-alive).
            h.wait_until(lambda: http.get(f"{gateway.base_url}/tools").status_code == 200 or None,
                         timeout=10, what="a slot freed by the closed stream")
            for stream in streams:
                stream.__exit__(None, None, None)
    finally:
        gateway.stop()
