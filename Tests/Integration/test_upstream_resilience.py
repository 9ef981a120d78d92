"""What clients see when an upstream goes away and comes back.

An upstream that stops must give a prompt JSON-RPC error (-32001), not a hang; once it is back
(a new process on the same port, which has forgotten the gateway's upstream session), the very
next call must succeed: the gateway re-initializes its upstream session by itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

import mcp_helpers as h

UPSTREAM_ERROR = -32001


def call_echo(gateway: h.Gateway, api: httpx.Client, tool: str, text: str, request_id: int) -> h.RpcReply:
    payload, headers = h.modern_request("tools/call", {"name": tool, "arguments": {"text": text}}, request_id=request_id)
    return h.rpc(api, gateway.mcp_url, payload, headers=headers)


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
def test_restarted_upstream_is_reinitialized(
    gateway: h.Gateway,
    api: httpx.Client,
    upstream_factory: Callable[..., h.Upstream],
    unique_name: Callable[[str], str],
    tmp_path: Path,
    transport: str,
) -> None:
    upstream = upstream_factory(transport)
    registration = h.register_gateway(api, unique_name("Restart"), upstream)
    tool = h.prefixed(registration["slug"], "echo")

    first = call_echo(gateway, api, tool, "before", 1)
    assert first.response(1)["result"]["content"] == [{"type": "text", "text": "before"}], first.raw

    upstream.stop()
    began = time.monotonic()
    down = call_echo(gateway, api, tool, "while down", 2)
    assert down.error_code(2) == UPSTREAM_ERROR, down.raw
    assert time.monotonic() - began < 10, "a dead upstream must fail the call promptly"

    restarted = h.start_upstream(
        transport, log_dir=tmp_path, page_size=upstream.page_size, namespace=upstream.namespace, port=upstream.port
    )
    try:
        after = call_echo(gateway, api, tool, "after", 3)
        assert after.response(3)["result"]["content"] == [{"type": "text", "text": "after"}], after.raw
    finally:
        restarted.stop()
