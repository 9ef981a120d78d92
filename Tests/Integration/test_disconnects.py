"""Clients that reset the connection right after sending a stream request: whatever the gateway
set up for the stream (a legacy SSE session, a GET stream's attachment, a listen subscription) is
released even when the response head can no longer be written, so the gateway's tables return to
where they were instead of growing with every reset."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import mcp_helpers as h

RESETS = 300


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Gateway]:
    started = h.or_fail(lambda: h.start_gateway(tmp_path_factory.mktemp("disconnects")))
    yield started
    started.stop()


def gauge(gateway: h.Gateway, name: str) -> float:
    resp = httpx.get(f"{gateway.base_url}/metrics", headers={"Authorization": f"Bearer {gateway.token}"}, timeout=10)
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise AssertionError(f"{name} not in /metrics")


def reset_right_after(gateway: h.Gateway, request: bytes) -> None:
    """Sends one request and closes with a TCP reset (SO_LINGER 0) without reading anything."""
    sock = socket.create_connection((h.LOOPBACK, gateway.port), timeout=5)
    try:
        sock.sendall(request)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()


def head(gateway: h.Gateway, method: str, path: str, *extra: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {h.LOOPBACK}:{gateway.port}",
             f"Authorization: Bearer {gateway.token}", "Accept: text/event-stream, application/json", *extra]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def settles_at(gateway: h.Gateway, name: str, value: float) -> None:
    h.wait_until(lambda: gauge(gateway, name) == value or None, timeout=20, interval=0.2,
                 what=f"{name} back at {value} (now {gauge(gateway, name)})")


def test_legacy_sse_sessions_reset_at_once_are_all_released(gateway: h.Gateway) -> None:
    sessions, streams = gauge(gateway, "mcpgateway_sessions_open"), gauge(gateway, "mcpgateway_sse_streams_open")
    for _ in range(RESETS):
        reset_right_after(gateway, head(gateway, "GET", "/sse"))
    settles_at(gateway, "mcpgateway_sessions_open", sessions)
    settles_at(gateway, "mcpgateway_sse_streams_open", streams)


def test_get_streams_reset_at_once_are_all_detached(gateway: h.Gateway) -> None:
    with httpx.Client(headers={"Authorization": f"Bearer {gateway.token}"}, timeout=30) as http:
        params = {"protocolVersion": h.LEGACY_VERSION, "capabilities": {}, "clientInfo": h.CLIENT_INFO}
        reply = h.rpc(http, gateway.mcp_url, h.request("initialize", params, request_id=0))
        session = reply.headers["mcp-session-id"]
    before = gauge(gateway, "mcpgateway_sse_streams_open")
    for _ in range(RESETS):
        reset_right_after(gateway, head(gateway, "GET", "/mcp", f"Mcp-Session-Id: {session}",
                                        f"MCP-Protocol-Version: {h.LEGACY_VERSION}"))
    settles_at(gateway, "mcpgateway_sse_streams_open", before)
