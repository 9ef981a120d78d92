"""MCP over WebSocket (`/ws`, on when MCPGATEWAY_WS_RELAY_ENABLED), tested with a plain WebSocket
client (the `websockets` package): one JSON-RPC message per text frame, the connection is the
session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

import mcp_helpers as h


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Stack]:
    workdir = tmp_path_factory.mktemp("websocket")
    with h.private_stack(workdir, "WS Upstream", extra_env={"MCPGATEWAY_WS_RELAY_ENABLED": "true"}) as stack:
        yield stack


def ws_url(stack: h.Stack, path: str = "/ws") -> str:
    return stack.gateway.base_url.replace("http://", "ws://") + path


def open_session(stack: h.Stack, path: str = "/ws") -> ClientConnection:
    socket = connect(ws_url(stack, path), additional_headers={"Authorization": f"Bearer {stack.gateway.token}"})
    socket.send(json.dumps(h.request("initialize", {"protocolVersion": h.LEGACY_VERSION, "capabilities": {}, "clientInfo": h.CLIENT_INFO}, 0)))
    assert receive(socket)["result"]["protocolVersion"] == h.LEGACY_VERSION
    socket.send(json.dumps(h.notification("notifications/initialized")))
    return socket


def receive(socket: ClientConnection) -> dict[str, Any]:
    return json.loads(socket.recv(timeout=30))


def test_websocket_session_lists_and_calls(stack: h.Stack) -> None:
    with open_session(stack) as socket:
        socket.send(json.dumps(h.request("tools/list", None, 1)))
        names = {tool["name"] for tool in receive(socket)["result"]["tools"]}
        assert stack.tool("echo") in names
        socket.send(json.dumps(h.request("tools/call", {"name": stack.tool("echo"), "arguments": {"text": "over ws"}}, 2)))
        assert receive(socket)["result"]["content"][0]["text"] == "over ws"


def test_progress_arrives_before_the_result(stack: h.Stack) -> None:
    with open_session(stack) as socket:
        call = {"name": stack.tool("progress"), "arguments": {"steps": 3}, "_meta": {"progressToken": "p1"}}
        socket.send(json.dumps(h.request("tools/call", call, 3)))
        messages = [receive(socket) for _ in range(4)]
        assert [m["params"]["progress"] for m in messages[:3]] == [1, 2, 3]
        assert all(m["params"]["progressToken"] == "p1" for m in messages[:3])
        assert messages[3]["id"] == 3 and messages[3]["result"]["content"][0]["text"] == "done 3"


def test_bad_frames_get_errors_and_the_session_goes_on(stack: h.Stack) -> None:
    with open_session(stack) as socket:
        socket.send("{not json")
        assert receive(socket)["error"]["code"] == -32700
        socket.send(b"\x00binary")
        assert receive(socket)["error"]["code"] == -32600
        socket.send(json.dumps([h.request("ping", None, 5)]))
        assert receive(socket)["error"]["code"] == -32600
        socket.send(json.dumps(h.request("ping", None, 6)))
        assert receive(socket) == {"jsonrpc": "2.0", "id": 6, "result": {}}


def test_upgrade_needs_a_token_and_a_known_server(stack: h.Stack) -> None:
    # The upgrade library answers every refused upgrade with 400; what matters is no session.
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(stack)).close()
    assert refused.value.response.status_code in (400, 401)
    with pytest.raises(InvalidStatus):
        connect(ws_url(stack), additional_headers={"Authorization": "Bearer forged.token.value"}).close()
    with pytest.raises(InvalidStatus):
        connect(
            ws_url(stack, "/servers/unknown/ws"), additional_headers={"Authorization": f"Bearer {stack.gateway.token}"}
        ).close()


def test_websocket_is_off_by_default(tmp_path_factory: pytest.TempPathFactory) -> None:
    gateway = h.or_fail(lambda: h.start_gateway(tmp_path_factory.mktemp("ws-off")))
    try:
        headers = {"Authorization": f"Bearer {gateway.token}"}
        with pytest.raises(InvalidStatus):
            connect(gateway.base_url.replace("http://", "ws://") + "/ws", additional_headers=headers).close()
        assert httpx.get(f"{gateway.base_url}/ws", headers=headers).status_code == 404
    finally:
        gateway.stop()
