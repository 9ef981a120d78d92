"""Connection-bound sessions (WebSocket, legacy SSE) under a client that misbehaves: WebSockets
count against MAX_CONCURRENT_REQUESTS_PER_CLIENT like every request and stream (one token cannot
fill the node's tables), each frame counts against the MCP rate limit, and a client that keeps
asking but never reads its answers is disconnected once its outbound queue passes its bounds
(MCP_STREAM_QUEUE_SIZE, MCP_STREAM_QUEUE_BYTES) instead of growing the gateway's memory."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

import mcp_helpers as h

LIMIT = 3
ENV = {
    "MCPGATEWAY_WS_RELAY_ENABLED": "true",
    "MAX_CONCURRENT_REQUESTS_PER_CLIENT": str(LIMIT),
    "RATE_LIMIT_MCP_PER_MINUTE": "40",
    "MCP_STREAM_QUEUE_SIZE": "16",
    "MCP_STREAM_QUEUE_BYTES": "65536",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Stack]:
    with h.private_stack(tmp_path_factory.mktemp("connection-limits"), "Limited", extra_env=ENV) as stack:
        yield stack


@pytest.fixture(scope="module")
def unlimited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Stack]:
    """The same queue bounds without a rate limit in the way: only the queue stops a flood."""
    env = {**ENV, "RATE_LIMITING_ENABLED": "false", "RATE_LIMIT_ENABLED": "false"}
    with h.private_stack(tmp_path_factory.mktemp("unlimited"), "Unlimited", extra_env=env) as stack:
        yield stack


def ws(stack: h.Stack, token: str) -> ClientConnection:
    url = stack.gateway.base_url.replace("http://", "ws://") + "/ws"
    return connect(url, additional_headers={"Authorization": f"Bearer {token}"})


def sessions_open(gateway: h.Gateway) -> float:
    resp = httpx.get(f"{gateway.base_url}/metrics", headers={"Authorization": f"Bearer {gateway.token}"}, timeout=10)
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            if sample.name == "mcpgateway_sessions_open":
                return sample.value
    raise AssertionError("mcpgateway_sessions_open not in /metrics")


def test_websockets_count_against_the_per_client_limit(stack: h.Stack) -> None:
    user = h.mint_token(stack.gateway, "many-sockets@example.com", admin=False)
    held = [ws(stack, user) for _ in range(LIMIT)]
    try:
        for socket_ in held:  # each is a live session
            socket_.send(json.dumps(h.request("ping", None, 1)))
            assert json.loads(socket_.recv(timeout=10))["id"] == 1
        extra = ws(stack, user)
        with pytest.raises(ConnectionClosed) as closed:
            extra.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert "at most 3 open at once" in closed.value.rcvd.reason
        # The same budget covers streams: no legacy SSE stream either, while another client is unaffected.
        sse = httpx.get(f"{stack.gateway.base_url}/sse", headers={"Authorization": f"Bearer {user}"}, timeout=10)
        assert sse.status_code == 429
        other = ws(stack, h.mint_token(stack.gateway, "someone-else@example.com", admin=False))
        other.send(json.dumps(h.request("ping", None, 2)))
        assert json.loads(other.recv(timeout=10))["id"] == 2
        other.close()
    finally:
        for socket_ in held:
            socket_.close()
    # Closed sockets give their slots back.
    h.wait_until(lambda: httpx.get(f"{stack.gateway.base_url}/tools", headers={"Authorization": f"Bearer {user}"},
                                   timeout=10).status_code == 200 or None, what="the slots to be released")


def test_each_websocket_frame_counts_against_the_rate_limit(stack: h.Stack) -> None:
    user = h.mint_token(stack.gateway, "chatty-socket@example.com", admin=False)
    with ws(stack, user) as socket_:
        answers: list[dict[str, Any]] = []
        for index in range(50):
            socket_.send(json.dumps(h.request("ping", None, index)))
            answers.append(json.loads(socket_.recv(timeout=10)))
    # The upgrade request was the first of the 40 (it is an MCP request like any other).
    limited = [a for a in answers if "error" in a]
    assert len(answers) - len(limited) == 39, answers[-1]
    assert all(a["error"]["code"] == -32029 and "40 requests per minute" in a["error"]["message"] for a in limited)
    assert [a["id"] for a in limited] == list(range(39, 50))


def raw_websocket(gateway: h.Gateway, token: str) -> socket.socket:
    """A WebSocket client on a plain socket with a tiny receive buffer, which never reads frames."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect((h.LOOPBACK, gateway.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: {h.LOOPBACK}:{gateway.port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  f"Authorization: Bearer {token}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def text_frame(payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    length = len(payload)
    header = struct.pack("!BB", 0x81, 0x80 | length) if length < 126 else struct.pack("!BBH", 0x81, 0x80 | 126, length)
    return header + mask + masked


def test_a_websocket_client_that_never_reads_is_disconnected(unlimited: h.Stack) -> None:
    gateway = unlimited.gateway
    before = sessions_open(gateway)
    sock = raw_websocket(gateway, h.mint_token(gateway, "never-reads@example.com", admin=False))
    frame = text_frame(json.dumps(h.request("tools/list", None, 1)).encode())
    try:
        try:
            for _ in range(3000):  # each answer lists the whole catalog (kilobytes)
                sock.sendall(frame)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the gateway closed the connection under us
        # Still connected from our side: it is the gateway that must end the session.
        h.wait_until(lambda: sessions_open(gateway) <= before or None, timeout=15,
                     what=f"the gateway to end the session (open: {sessions_open(gateway)}, before: {before})")
    finally:
        sock.close()


def test_a_legacy_sse_client_that_never_reads_is_disconnected(unlimited: h.Stack) -> None:
    gateway = unlimited.gateway
    token = h.mint_token(gateway, "sse-never-reads@example.com", admin=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect((h.LOOPBACK, gateway.port))
    sock.sendall((f"GET /sse HTTP/1.1\r\nHost: {h.LOOPBACK}:{gateway.port}\r\nAccept: text/event-stream\r\n"
                  f"Authorization: Bearer {token}\r\n\r\n").encode())
    opening = b""
    while b"session_id=" not in opening or not opening.rstrip(b" ").endswith(b"\n\n"):
        opening += sock.recv(1)
    endpoint = opening.split(b"data: ", 1)[1].split(b"\n", 1)[0].decode().strip()
    statuses: list[int] = []
    try:
        with httpx.Client(base_url=gateway.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
            for index in range(3000):
                status = http.post(endpoint, json=h.request("tools/list", None, index)).status_code
                statuses.append(status)
                if status == 404:
                    break
    finally:
        sock.close()
    assert statuses[-1] == 404, f"the session outlived {len(statuses)} unread answers"
    assert set(statuses[:-1]) == {202}
