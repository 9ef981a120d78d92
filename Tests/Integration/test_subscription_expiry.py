"""Resource subscriptions of stateful sessions are bounded per session
(MCP_MAX_SUBSCRIPTIONS_PER_SESSION) and end with the session's SESSION_TTL when the client just
goes away without DELETE: the gateway then releases the upstream subscription, so neither its own
tables nor the set it replays to every new upstream session grow with clients that left.
The TTL cannot be set below 60 s, so the expiry test waits that long."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import mcp_helpers as h

TTL = 60


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Stack]:
    env = {"SESSION_TTL": str(TTL), "MCP_MAX_SUBSCRIPTIONS_PER_SESSION": "2"}
    with h.private_stack(tmp_path_factory.mktemp("subscriptions"), "Watched", extra_env=env) as stack:
        yield stack


def open_session(stack: h.Stack, http: httpx.Client) -> dict[str, str]:
    session_id, _ = h.legacy_initialize(http, stack.gateway.mcp_url)
    return {"Mcp-Session-Id": session_id, "MCP-Protocol-Version": h.LEGACY_VERSION, "Accept": h.ACCEPT_BOTH}


def rpc(stack: h.Stack, http: httpx.Client, headers: dict[str, str], method: str, params: dict[str, Any],
        request_id: int) -> h.RpcReply:
    return h.rpc(http, stack.gateway.mcp_url, h.request(method, params, request_id), headers=headers)


def subscribers(stack: h.Stack, http: httpx.Client, headers: dict[str, str], uri: str) -> int:
    """How many subscriptions the upstream itself holds for `uri` (its `touch` tool counts them)."""
    reply = rpc(stack, http, headers, "tools/call", {"name": stack.tool("touch"), "arguments": {"uri": uri}}, 90)
    return int(reply.response(90)["result"]["content"][0]["text"])


def test_subscriptions_per_session_are_capped(stack: h.Stack) -> None:
    uris = stack.upstream.uris
    with httpx.Client(headers={"Authorization": f"Bearer {stack.gateway.token}"}, timeout=30) as http:
        session = open_session(stack, http)
        for index, uri in enumerate([uris["greeting"], uris["farewell"]]):
            assert "result" in rpc(stack, http, session, "resources/subscribe", {"uri": uri}, index).response(index)
        third = rpc(stack, http, session, "resources/subscribe", {"uri": uris["item_template"].replace("{id}", "7")}, 3)
        assert third.error_code(3) == -32600
        assert "2 subscriptions" in third.response(3)["error"]["message"]
        http.delete(stack.gateway.mcp_url, headers=session)
        # The upstream subscriptions are released in the background; the next test starts clean.
        h.wait_until(lambda: subscribers(stack, http, open_session(stack, http), uris["greeting"]) == 0 or None,
                     timeout=10, what="the deleted session's subscriptions to be released")


@pytest.mark.timeout(TTL + 60)
def test_a_session_that_outlives_its_ttl_releases_its_subscriptions(stack: h.Stack) -> None:
    uri = stack.upstream.uris["greeting"]
    with httpx.Client(headers={"Authorization": f"Bearer {stack.gateway.token}"}, timeout=30) as http:
        watcher = open_session(stack, http)
        assert "result" in rpc(stack, http, watcher, "resources/subscribe", {"uri": uri}, 1).response(1)
        assert subscribers(stack, http, open_session(stack, http), uri) == 1
        # The watcher goes away without DELETE. Once its TTL passed, the upstream is released.
        h.wait_until(lambda: subscribers(stack, http, open_session(stack, http), uri) == 0 or None,
                     timeout=TTL + 30, interval=2, what="the expired session's subscription to be released")
        # And the session itself is gone, as SESSION_TTL says.
        assert rpc(stack, http, watcher, "ping", {}, 2).status == 404
