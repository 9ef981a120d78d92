"""A 2026-07-28 client cancels a call by closing its request: the upstream hears of it at once.

The gateway's keep-alive interval is left at its default (15 s), so a close noticed only at the
next keep-alive write would come far too late: the close must be noticed from the connection
itself, for a client waiting on an SSE answer and for one waiting on plain JSON.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

import mcp_helpers as h

CANCEL_WITHIN_SECONDS = 1.0


@pytest.fixture(scope="module", params=["streamable-http", "sse"])
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Stack]:
    workdir = tmp_path_factory.mktemp(f"client-close-{request.param}")
    with h.private_stack(
        workdir, "Closing Upstream", transport=request.param, extra_env={"MCPGATEWAY_WS_RELAY_ENABLED": "true"}
    ) as stack:
        yield stack


def slow_status(env: h.Stack, tag: str) -> dict[str, bool]:
    payload, headers = h.modern_request("tools/call", {"name": env.tool("slow_status"), "arguments": {"tag": tag}})
    with httpx.Client(timeout=10.0, headers={"Authorization": f"Bearer {env.gateway.token}"}) as http:
        reply = h.rpc(http, env.gateway.mcp_url, payload, headers=headers)
    return json.loads(reply.response()["result"]["content"][0]["text"])


def raw_post(env: h.Stack, body: dict[str, Any], headers: dict[str, str]) -> socket.socket:
    """Sends one POST on a raw socket and returns the socket, the answer unread."""
    host, port = env.gateway.base_url.removeprefix("http://").rsplit(":", 1)
    data = json.dumps(body).encode()
    lines = [
        "POST /mcp HTTP/1.1",
        f"Host: {host}:{port}",
        f"Authorization: Bearer {env.gateway.token}",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
        *[f"{name}: {value}" for name, value in headers.items()],
    ]
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
    return sock


@pytest.mark.parametrize("accept", ["application/json", h.ACCEPT_BOTH])
def test_closing_the_request_cancels_the_upstream_call_within_a_second(env: h.Stack, accept: str) -> None:
    tag = uuid.uuid4().hex
    body, headers = h.modern_request("tools/call", {"name": env.tool("slow"), "arguments": {"seconds": 30, "tag": tag}})
    sock = raw_post(env, body, {**headers, "Accept": accept})
    h.wait_until(lambda: slow_status(env, tag)["started"] or None, timeout=10, what="the slow call to start")
    sock.close()
    wait_for_the_cancel(env, tag, time.monotonic())


def wait_for_the_cancel(env: h.Stack, tag: str, closed: float) -> None:
    h.wait_until(
        lambda: slow_status(env, tag)["cancelled"] or None, timeout=10, interval=0.05, what="the upstream to see the cancel"
    )
    took = time.monotonic() - closed
    assert took < CANCEL_WITHIN_SECONDS, f"the upstream heard of the close after {took:.2f} s"


def slow_call(env: h.Stack, tag: str, request_id: int) -> dict[str, Any]:
    return h.request("tools/call", {"name": env.tool("slow"), "arguments": {"seconds": 30, "tag": tag}}, request_id)


def test_closing_a_websocket_cancels_its_calls_within_a_second(env: h.Stack) -> None:
    tag = uuid.uuid4().hex
    url = env.gateway.base_url.replace("http://", "ws://") + "/ws"
    socket = connect(url, additional_headers={"Authorization": f"Bearer {env.gateway.token}"})
    init = {"protocolVersion": h.LEGACY_VERSION, "capabilities": {}, "clientInfo": h.CLIENT_INFO}
    socket.send(json.dumps(h.request("initialize", init, 0)))
    assert "result" in json.loads(socket.recv(timeout=30))
    socket.send(json.dumps(h.notification("notifications/initialized")))
    socket.send(json.dumps(slow_call(env, tag, 1)))
    h.wait_until(lambda: slow_status(env, tag)["started"] or None, timeout=10, what="the slow call to start")
    socket.close()
    wait_for_the_cancel(env, tag, time.monotonic())


def test_closing_a_legacy_sse_stream_cancels_its_calls_within_a_second(env: h.Stack) -> None:
    tag = uuid.uuid4().hex
    auth = {"Authorization": f"Bearer {env.gateway.token}"}
    with httpx.Client(timeout=30.0, headers=auth) as http:
        with http.stream("GET", f"{env.gateway.base_url}/sse", headers={"Accept": "text/event-stream"}) as resp:
            assert resp.status_code == 200
            lines = resp.iter_lines()
            endpoint = next(line for line in lines if line.startswith("data: "))[len("data: "):]
            url = env.gateway.base_url + endpoint
            init = {"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": h.CLIENT_INFO}
            for message in [h.request("initialize", init, 0), h.notification("notifications/initialized"), slow_call(env, tag, 1)]:
                assert http.post(url, json=message).status_code == 202
            h.wait_until(lambda: slow_status(env, tag)["started"] or None, timeout=10, what="the slow call to start")
        closed = time.monotonic()
    wait_for_the_cancel(env, tag, closed)
