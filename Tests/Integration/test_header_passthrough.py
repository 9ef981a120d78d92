"""Header passthrough (off by default): when enabled, the listed client headers reach the
upstream on forwarded calls — per call, never across clients — while credentials, cookies and
unlisted headers do not, and the upstream's own credential headers win."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

import mcp_helpers as h

ENABLED = {"ENABLE_HEADER_PASSTHROUGH": "true", "DEFAULT_PASSTHROUGH_HEADERS": "X-Tenant-Id, X-Trace-Id"}


def seen_by_upstream(stack: h.Stack, headers: dict[str, str], url: str | None = None) -> dict[str, Any]:
    """Calls the upstream's `headers` tool (2026-07-28, stateless) with extra request headers."""
    message, protocol_headers = h.modern_request("tools/call", {"name": stack.tool("headers"), "arguments": {}})
    resp = httpx.post(url or stack.gateway.mcp_url, json=message, timeout=30, headers={
        "Authorization": f"Bearer {stack.gateway.token}", "Accept": h.ACCEPT_BOTH, **protocol_headers, **headers})
    for item in h.parse_body(resp.headers.get("content-type", ""), resp.content):
        if isinstance(item, dict) and item.get("id") == message["id"]:
            return json.loads(item["result"]["content"][0]["text"])
    raise AssertionError(f"no response: {resp.status_code} {resp.text[:300]}")


CLIENT_HEADERS = {"X-Tenant-Id": "acme", "X-Trace-Id": "trace-1", "X-Other": "nope", "Cookie": "session=secret"}


def test_off_by_default(tmp_path: Path) -> None:
    with h.private_stack(tmp_path, "Plain") as stack:
        seen = seen_by_upstream(stack, CLIENT_HEADERS)
        assert not {"x-tenant-id", "x-trace-id", "x-other", "cookie", "authorization"} & seen.keys(), seen


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Stack]:
    with h.private_stack(tmp_path_factory.mktemp("passthrough"), "Passing", extra_env=ENABLED) as stack:
        yield stack


def test_listed_headers_reach_the_upstream_and_nothing_else(stack: h.Stack) -> None:
    seen = seen_by_upstream(stack, CLIENT_HEADERS)
    assert seen.get("x-tenant-id") == "acme" and seen.get("x-trace-id") == "trace-1", seen
    assert "x-other" not in seen and "cookie" not in seen and "authorization" not in seen, seen


def test_each_call_carries_only_its_own_clients_headers(stack: h.Stack) -> None:
    for tenant in ["alpha", "beta", "gamma"]:
        assert seen_by_upstream(stack, {"X-Tenant-Id": tenant}).get("x-tenant-id") == tenant
    assert "x-tenant-id" not in seen_by_upstream(stack, {})


def test_the_upstreams_own_credential_header_wins(stack: h.Stack) -> None:
    with h.rest_client(stack.gateway) as api:
        body = {"name": "Tenant Pinned", "url": stack.upstream.url, "transport": "STREAMABLEHTTP",
                "auth_type": "authheaders", "auth_header_key": "X-Tenant-Id", "auth_header_value": "pinned"}
        registered = h.ok_json(api.post("/gateways", json=body), 200, 201)
        h.wait_for_tools(api, registered["id"], len(h.UPSTREAM_TOOLS))
    pinned = h.Stack(gateway=stack.gateway, upstream=stack.upstream, slug=h.slugify("Tenant Pinned"))
    assert seen_by_upstream(pinned, {"X-Tenant-Id": "spoofed"}).get("x-tenant-id") == "pinned"


@pytest.mark.parametrize("names", ["Authorization", "X-Tenant-Id,Cookie", "Mcp-Session-Id", "X Bad", "x_under"])
def test_unsafe_allow_lists_stop_start_up(tmp_path: Path, names: str) -> None:
    env = {"ENABLE_HEADER_PASSTHROUGH": "true", "DEFAULT_PASSTHROUGH_HEADERS": names}
    with pytest.raises(RuntimeError, match="DEFAULT_PASSTHROUGH_HEADERS"):
        h.start_gateway(tmp_path, extra_env=env, ready_timeout=10)
