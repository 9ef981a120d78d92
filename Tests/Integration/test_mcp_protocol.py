"""Raw MCP over HTTP on /mcp: bad input, sessions of the 2025-11-25 era, the stateless 2026-07-28 era.

Bodies may come back as application/json or as text/event-stream; `mcp_helpers.rpc` reads both.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

import mcp_helpers as h

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602


def session_headers(session_id: str, version: str = h.LEGACY_VERSION) -> dict[str, str]:
    return {"Mcp-Session-Id": session_id, "MCP-Protocol-Version": version}


@pytest.fixture
def session(protocol_target: h.ProtocolTarget) -> dict[str, str]:
    """A fresh 2025-11-25 session: the headers that every request in it carries."""
    session_id, _ = h.legacy_initialize(protocol_target.http, protocol_target.url)
    return session_headers(session_id)


# --- the 2025-11-25 (stateful) era ------------------------------------------------------------


@pytest.mark.parametrize("version", ["2025-11-25", "2025-06-18", "2025-03-26"])
def test_initialize(protocol_target: h.ProtocolTarget, version: str) -> None:
    session_id, result = h.legacy_initialize(protocol_target.http, protocol_target.url, version=version)
    assert result["protocolVersion"] == version
    assert "tools" in result["capabilities"], result
    assert isinstance(result["serverInfo"]["name"], str) and result["serverInfo"]["name"], result
    assert session_id.isprintable() and len(session_id) >= 16, session_id


def test_initialize_with_unknown_version_gets_a_supported_one(protocol_target: h.ProtocolTarget) -> None:
    params = {"protocolVersion": "1999-01-01", "capabilities": {}, "clientInfo": h.CLIENT_INFO}
    reply = h.rpc(protocol_target.http, protocol_target.url, h.request("initialize", params, request_id=7))
    assert reply.status == 200, reply.raw
    assert reply.response(7)["result"]["protocolVersion"] == h.LEGACY_VERSION


def test_tools_list_in_session(protocol_target: h.ProtocolTarget, session: dict[str, str]) -> None:
    names: list[str] = []
    cursor = None
    for page in range(20):
        params = {"cursor": cursor} if cursor else None
        payload = h.request("tools/list", params, request_id=200 + page)
        reply = h.rpc(protocol_target.http, protocol_target.url, payload, headers=session)
        assert reply.status == 200, reply.raw
        result = reply.response(200 + page)["result"]
        names += [tool["name"] for tool in result["tools"]]
        cursor = result.get("nextCursor")
        if not cursor:
            break
    assert protocol_target.echo_tool in names, names
    assert len(names) == len(set(names)), names


def test_tools_call_in_session(protocol_target: h.ProtocolTarget, session: dict[str, str]) -> None:
    payload = h.request("tools/call", {"name": protocol_target.echo_tool, "arguments": {"text": "raw"}}, request_id=3)
    reply = h.rpc(protocol_target.http, protocol_target.url, payload, headers=session)
    assert reply.status == 200, reply.raw
    result = reply.response(3)["result"]
    assert result["content"] == [{"type": "text", "text": "raw"}], result
    assert result.get("isError", False) is False


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_malformed_json_is_parse_error(protocol_target: h.ProtocolTarget, era: str) -> None:
    headers = {"MCP-Protocol-Version": h.MODERN_VERSION} if era == "modern" else {}
    reply = h.rpc(
        protocol_target.http,
        protocol_target.url,
        None,
        content=b'{"jsonrpc": "2.0", "id": 1, "method": "tools/li',
        headers=headers,
    )
    assert reply.error_code() == PARSE_ERROR, reply.raw
    assert reply.status in (200, 400), reply.status


NOT_REQUESTS: list[Any] = [{"foo": 1}, {"jsonrpc": "2.0", "id": 5}, [], 42, "tools/list"]


@pytest.mark.parametrize(
    "body", NOT_REQUESTS, ids=["object-without-method", "id-without-method", "empty-array", "number", "string"]
)
def test_not_a_request_is_invalid_request_in_session(
    protocol_target: h.ProtocolTarget, session: dict[str, str], body: Any
) -> None:
    reply = h.rpc(protocol_target.http, protocol_target.url, body, headers=session)
    assert reply.error_code() == INVALID_REQUEST, reply.raw
    assert reply.status in (200, 400), reply.status


@pytest.mark.parametrize(
    "body", NOT_REQUESTS, ids=["object-without-method", "id-without-method", "empty-array", "number", "string"]
)
def test_not_a_request_is_invalid_request_stateless(protocol_target: h.ProtocolTarget, body: Any) -> None:
    reply = h.rpc(protocol_target.http, protocol_target.url, body, headers={"MCP-Protocol-Version": h.MODERN_VERSION})
    assert reply.error_code() == INVALID_REQUEST, reply.raw
    assert reply.status in (200, 400), reply.status


def test_unknown_method_in_session(protocol_target: h.ProtocolTarget, session: dict[str, str]) -> None:
    reply = h.rpc(
        protocol_target.http, protocol_target.url, h.request("no/such/method", {}, request_id=4), headers=session
    )
    assert reply.error_code(4) == METHOD_NOT_FOUND, reply.raw


def test_unknown_tool_in_session(protocol_target: h.ProtocolTarget, session: dict[str, str]) -> None:
    payload = h.request("tools/call", {"name": "no-such-tool", "arguments": {}}, request_id=5)
    reply = h.rpc(protocol_target.http, protocol_target.url, payload, headers=session)
    assert reply.error_code(5) == INVALID_PARAMS, reply.raw


def test_request_without_session_id_is_400(protocol_target: h.ProtocolTarget, session: dict[str, str]) -> None:
    reply = h.rpc(
        protocol_target.http,
        protocol_target.url,
        h.request("tools/list", request_id=6),
        headers={"MCP-Protocol-Version": h.LEGACY_VERSION},
    )
    assert reply.status == 400, reply.raw


@pytest.mark.parametrize("kind", ["random", "garbled", "tampered"])
def test_unknown_session_id_is_404(protocol_target: h.ProtocolTarget, session: dict[str, str], kind: str) -> None:
    real = session["Mcp-Session-Id"]
    if kind == "random":
        session_id = uuid.uuid4().hex
    elif kind == "garbled":
        session_id = "not a session !"
    else:  # the real id with one character changed: a sealed id must not open
        index = len(real) // 2
        session_id = real[:index] + ("A" if real[index] != "A" else "B") + real[index + 1 :]
    reply = h.rpc(
        protocol_target.http,
        protocol_target.url,
        h.request("tools/list", request_id=8),
        headers=session_headers(session_id),
    )
    assert reply.status == 404, (kind, reply.status, reply.raw)


def test_delete_ends_the_session(protocol_target: h.ProtocolTarget, session: dict[str, str]) -> None:
    ping = h.request("ping", request_id=9)
    before = h.rpc(protocol_target.http, protocol_target.url, ping, headers=session)
    assert before.status == 200 and "result" in before.response(9), before.raw

    deleted = protocol_target.http.delete(protocol_target.url, headers=session)
    assert deleted.status_code in (200, 204), deleted.text

    after = h.rpc(protocol_target.http, protocol_target.url, ping, headers=session)
    assert after.status == 404, (after.status, after.raw)


def test_notification_is_202_without_body(protocol_target: h.ProtocolTarget, session: dict[str, str]) -> None:
    payload = h.notification("notifications/cancelled", {"requestId": 12345, "reason": "test"})
    reply = h.rpc(protocol_target.http, protocol_target.url, payload, headers=session)
    assert reply.status == 202, reply.raw
    assert reply.raw == b""


def test_batch_is_refused_in_2025_11_25(protocol_target: h.ProtocolTarget, session: dict[str, str]) -> None:
    batch = [h.request("ping", request_id=10), h.request("tools/list", request_id=11)]
    reply = h.rpc(protocol_target.http, protocol_target.url, batch, headers=session)
    assert reply.messages, (reply.status, reply.raw)
    assert not any("result" in m for m in reply.messages if isinstance(m, dict)), reply.messages
    codes = {m["error"]["code"] for m in reply.messages if isinstance(m, dict) and "error" in m}
    assert codes == {INVALID_REQUEST}, reply.messages


# --- the 2026-07-28 (stateless) era -------------------------------------------------------------


def test_server_discover(protocol_target: h.ProtocolTarget) -> None:
    payload, headers = h.modern_request("server/discover", request_id=20)
    reply = h.rpc(protocol_target.http, protocol_target.url, payload, headers=headers)
    assert reply.status == 200, reply.raw
    assert "mcp-session-id" not in reply.headers
    result = reply.response(20)["result"]
    assert h.MODERN_VERSION in result["supportedVersions"], result
    assert "tools" in result["capabilities"], result


def test_stateless_tools_list_and_call(protocol_target: h.ProtocolTarget) -> None:
    names: set[str] = set()
    cursor = None
    for page in range(20):
        params = {"cursor": cursor} if cursor else {}
        payload, headers = h.modern_request("tools/list", params, request_id=100 + page)
        reply = h.rpc(protocol_target.http, protocol_target.url, payload, headers=headers)
        assert reply.status == 200, reply.raw
        result = reply.response(100 + page)["result"]
        names |= {tool["name"] for tool in result["tools"]}
        cursor = result.get("nextCursor")
        if not cursor:
            break
    assert protocol_target.echo_tool in names, names

    payload, headers = h.modern_request(
        "tools/call", {"name": protocol_target.echo_tool, "arguments": {"text": "stateless"}}, request_id=21
    )
    reply = h.rpc(protocol_target.http, protocol_target.url, payload, headers=headers)
    assert reply.status == 200, reply.raw
    assert "mcp-session-id" not in reply.headers
    assert reply.response(21)["result"]["content"] == [{"type": "text", "text": "stateless"}]


def test_stateless_unknown_method_is_404(protocol_target: h.ProtocolTarget) -> None:
    payload, headers = h.modern_request("no/such/method", {}, request_id=22)
    reply = h.rpc(protocol_target.http, protocol_target.url, payload, headers=headers)
    assert reply.status == 404, (reply.status, reply.raw)
    assert reply.error_code(22) == METHOD_NOT_FOUND


def test_stateless_unknown_tool_is_invalid_params(protocol_target: h.ProtocolTarget) -> None:
    payload, headers = h.modern_request("tools/call", {"name": "no-such-tool", "arguments": {}}, request_id=23)
    reply = h.rpc(protocol_target.http, protocol_target.url, payload, headers=headers)
    assert reply.error_code(23) == INVALID_PARAMS, reply.raw


def test_stateless_get_is_405(protocol_target: h.ProtocolTarget) -> None:
    resp = protocol_target.http.get(
        protocol_target.url, headers={"MCP-Protocol-Version": h.MODERN_VERSION, "Accept": "text/event-stream"}
    )
    assert resp.status_code == 405, resp.text


def test_stateless_request_without_envelope_is_rejected(protocol_target: h.ProtocolTarget) -> None:
    """A 2026-07-28 request must carry its protocol version in params._meta."""
    payload = h.request("tools/list", {}, request_id=24)
    headers = {"MCP-Protocol-Version": h.MODERN_VERSION, "Mcp-Method": "tools/list"}
    reply = h.rpc(protocol_target.http, protocol_target.url, payload, headers=headers)
    assert reply.status == 400, (reply.status, reply.raw)
    assert "error" in reply.response(24), reply.raw


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_duplicate_params_members_are_refused(
    protocol_target: h.ProtocolTarget, session: dict[str, str], era: str
) -> None:
    """`{"name": "allowed", "name": "other"}` must not reach an upstream that reads the last key:
    a virtual server's scope check reads the same member the upstream would."""
    if era == "legacy":
        headers = session
        params = f'{{"name":"{protocol_target.echo_tool}","name":"fail","arguments":{{"text":"x"}}}}'
    else:
        _, headers = h.modern_request("tools/call", {"name": protocol_target.echo_tool})
        meta = json.dumps({h.PROTOCOL_VERSION_META_KEY: h.MODERN_VERSION, h.CLIENT_CAPABILITIES_META_KEY: {}})
        params = f'{{"name":"{protocol_target.echo_tool}","name":"fail","arguments":{{"text":"x"}},"_meta":{meta}}}'
    content = f'{{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{params}}}'.encode()
    reply = h.rpc(protocol_target.http, protocol_target.url, None, headers=headers, content=content)
    assert reply.error_code(41) == INVALID_REQUEST, reply.raw


def test_invalid_string_escape_is_parse_error(protocol_target: h.ProtocolTarget, session: dict[str, str]) -> None:
    content = b'{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"x","arguments":{"text":"\\q"}}}'
    reply = h.rpc(protocol_target.http, protocol_target.url, None, headers=session, content=content)
    assert reply.status == 400, reply.raw
    assert reply.messages and reply.messages[0]["error"]["code"] == PARSE_ERROR, reply.raw
