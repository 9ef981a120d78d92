"""fastmcp's client (PyPI `fastmcp`), a second real client, in its default mode (2026-07-28), on
`/mcp` and on a virtual server: tools that ask the client for sampling, elicitation and roots, on
an upstream spoken to at 2025-11-25 (the gateway answers `input_required` and holds the call) and
on one that speaks only 2026-07-28 (its `input_required` passed through).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastmcp import Client

import mcp_helpers as h


@dataclass
class Gateway2:
    gateway: h.Gateway
    classic: str  # slug of the upstream spoken to at 2025-11-25
    modern: str  # slug of the upstream that speaks only 2026-07-28
    server_id: str  # a virtual server with one asking tool of each


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway2]:
    workdir = tmp_path_factory.mktemp("fastmcp")
    classic = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=workdir))
    modern = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=workdir, refuse_initialize=True))
    try:
        gateway = h.or_fail(lambda: h.start_gateway(workdir))
        try:
            with h.rest_client(gateway) as api:
                for name, upstream in [("Classic", classic), ("Modern", modern)]:
                    registered = h.register_gateway(api, name, upstream)
                    h.wait_for_tools(api, registered["id"], len(h.UPSTREAM_TOOLS))
                tools = {tool["name"]: tool["id"] for tool in h.list_rest(api, "tools")}
                wanted = [h.prefixed("classic", "ask_sampling"), h.prefixed("modern", "resolve_sampling")]
                server = h.ok_json(
                    api.post("/servers", json={"name": "asking", "associated_tools": [tools[t] for t in wanted]}),
                    200, 201,
                )
            yield Gateway2(gateway=gateway, classic="classic", modern="modern", server_id=server["id"])
        finally:
            gateway.stop()
    finally:
        modern.stop()
        classic.stop()


def sample(messages: list[Any], params: Any, context: Any) -> str:
    return f"model says {messages[0].content.text[::-1]}"


async def elicit(message: str, response_type: Any, params: Any, context: Any) -> dict[str, Any]:
    assert message == "What is your name?"
    return {"name": "Ada"}


def client(url: str, env: Gateway2) -> Client:
    return Client(
        url,
        auth=env.gateway.token,
        sampling_handler=sample,
        elicitation_handler=elicit,
        roots=["file:///work/a"],
    )


def text(result: Any) -> str:
    assert not result.is_error, result
    return result.content[0].text


@pytest.mark.parametrize(
    ("upstream", "tool", "arguments", "expected"),
    [
        ("classic", "ask_sampling", {"prompt": "fast"}, "sampled: model says tsaf"),
        ("classic", "ask_name", {}, "hello Ada"),
        ("classic", "ask_roots", {}, "roots: file:///work/a"),
        ("modern", "resolve_sampling", {"prompt": "fast"}, "resolved: model says tsaf"),
        ("modern", "resolve_name", {}, "hello Ada"),
        ("modern", "resolve_roots", {}, "roots: file:///work/a"),
    ],
)
def test_fastmcp_answers_what_upstreams_ask_through_the_gateway(
    env: Gateway2, upstream: str, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    async def body() -> None:
        async with client(env.gateway.mcp_url, env) as fast:
            assert text(await fast.call_tool(h.prefixed(upstream, tool), arguments)) == expected

    h.run(body)


def test_fastmcp_on_a_virtual_server(env: Gateway2) -> None:
    async def body() -> None:
        async with client(env.gateway.server_mcp_url(env.server_id), env) as fast:
            names = {tool.name for tool in await fast.list_tools()}
            assert names == {h.prefixed("classic", "ask_sampling"), h.prefixed("modern", "resolve_sampling")}
            classic = await fast.call_tool(h.prefixed("classic", "ask_sampling"), {"prompt": "vs"})
            assert text(classic) == "sampled: model says sv"
            modern = await fast.call_tool(h.prefixed("modern", "resolve_sampling"), {"prompt": "vs"})
            assert text(modern) == "resolved: model says sv"

    h.run(body)
