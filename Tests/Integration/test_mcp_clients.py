"""The official Python SDK client (mcp 2.3.0) through the gateway.

Every combination of
  - upstream transport: streamable HTTP, SSE;
  - client mode: the SDK default (server/discover, stateless 2026-07-28), legacy (2025-11-25
    initialize + Mcp-Session-Id), and the older handshakes 2025-06-18 and 2025-03-26;
  - endpoint: the gateway's /mcp (everything) and a virtual server's /servers/{id}/mcp
    (only its associated tools, resources and prompts).

Each upstream transport gets its own gateway, so both upstreams can serve the same resource
URIs (data://greeting) that the client reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import EmptyResult, PromptReference

import mcp_helpers as h
import upstream_server

INVALID_PARAMS = -32602
ECHO_TEXT = "héllo, gateway ✓ — 123"


@dataclass
class ClientEnv:
    gateway: h.Gateway
    upstream: h.Upstream
    slug: str
    server_id: str

    def name(self, original: str) -> str:
        return h.prefixed(self.slug, original)

    def url(self, endpoint: str) -> str:
        return self.gateway.mcp_url if endpoint == "gateway" else self.gateway.server_mcp_url(self.server_id)


@pytest.fixture(scope="module", params=["streamable-http", "sse"])
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClientEnv]:
    """A private gateway with one upstream of the given transport and one virtual server."""
    transport: str = request.param
    workdir = tmp_path_factory.mktemp(f"clients-{transport}")
    upstream = h.or_fail(lambda: h.start_upstream(transport, log_dir=workdir, page_size=5))
    try:
        gateway = h.or_fail(lambda: h.start_gateway(workdir))
    except BaseException:
        upstream.stop()
        raise
    try:
        with h.rest_client(gateway) as api:
            name = "Upstream HTTP" if transport == "streamable-http" else "Upstream SSE"
            registered = h.register_gateway(api, name, upstream)
            slug = h.slugify(name)
            tools = {t["originalName"]: t["id"] for t in h.wait_for_tools(api, registered["id"], len(h.UPSTREAM_TOOLS))}
            resources = {r["uri"]: r["id"] for r in h.list_rest(api, "resources")}
            prompts = {p["name"]: p["id"] for p in h.list_rest(api, "prompts")}
            server = {
                "name": f"Clients {transport} {uuid.uuid4().hex[:6]}",
                "description": "echo, add, the greeting and the greet prompt",
                "associated_tools": [tools["echo"], tools["add"]],
                "associated_resources": [resources[upstream.uris["greeting"]]],
                "associated_prompts": [prompts[h.prefixed(slug, "greet")]],
            }
            created = h.ok_json(api.post("/servers", json={"server": server}), 201)
        yield ClientEnv(gateway=gateway, upstream=upstream, slug=slug, server_id=created["id"])
    finally:
        gateway.stop()
        upstream.stop()


MODES = list(h.CLIENT_MODES)
ENDPOINTS = ["gateway", "virtual"]


def expected_tools(env: ClientEnv, endpoint: str) -> set[str]:
    originals = h.UPSTREAM_TOOLS if endpoint == "gateway" else ["echo", "add"]
    return {env.name(original) for original in originals}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("mode", MODES)
def test_list_tools(env: ClientEnv, mode: str, endpoint: str) -> None:
    async def body() -> None:
        async with h.connect(env.url(endpoint), token=env.gateway.token, mode=mode) as client:
            tools = {tool.name: tool for tool in await h.list_all(client, "tools")}
            assert set(tools) == expected_tools(env, endpoint)
            echo = tools[env.name("echo")]
            assert echo.description == "Echo the given text back unchanged."
            assert echo.input_schema["properties"]["text"]["type"] == "string"
            assert echo.input_schema.get("required") == ["text"]
            add = tools[env.name("add")]
            assert set(add.input_schema["properties"]) == {"a", "b"}
            assert add.output_schema is not None and "sum" in add.output_schema["properties"]

    h.run(body)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("mode", MODES)
def test_call_echo(env: ClientEnv, mode: str, endpoint: str) -> None:
    async def body() -> None:
        async with h.connect(env.url(endpoint), token=env.gateway.token, mode=mode) as client:
            result = await client.call_tool(env.name("echo"), {"text": ECHO_TEXT})
            assert result.is_error is False, result
            assert [block.type for block in result.content] == ["text"]
            assert result.content[0].text == ECHO_TEXT

    h.run(body)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("mode", MODES)
def test_call_add_structured(env: ClientEnv, mode: str, endpoint: str) -> None:
    async def body() -> None:
        async with h.connect(env.url(endpoint), token=env.gateway.token, mode=mode) as client:
            await h.list_all(client, "tools")  # lets the SDK validate the result against outputSchema
            result = await client.call_tool(env.name("add"), {"a": 19, "b": 23})
            assert result.is_error is False, result
            assert result.structured_content == {"sum": 42}

    h.run(body)


@pytest.mark.parametrize("mode", MODES)
def test_call_fail_is_error_result(env: ClientEnv, mode: str) -> None:
    async def body() -> None:
        async with h.connect(env.url("gateway"), token=env.gateway.token, mode=mode) as client:
            result = await client.call_tool(env.name("fail"), {})
            assert result.is_error is True, result
            assert "intentional failure" in result.content[0].text

    h.run(body)


@pytest.mark.parametrize("mode", MODES)
def test_virtual_server_hides_other_tools(env: ClientEnv, mode: str) -> None:
    async def body() -> None:
        async with h.connect(env.url("virtual"), token=env.gateway.token, mode=mode) as client:
            with pytest.raises(MCPError) as raised:
                await client.call_tool(env.name("fail"), {})
            assert raised.value.code == INVALID_PARAMS, raised.value

    h.run(body)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("mode", MODES)
def test_resources(env: ClientEnv, mode: str, endpoint: str) -> None:
    uris = env.upstream.uris
    assert uris["greeting"] == "data://greeting"

    async def body() -> None:
        async with h.connect(env.url(endpoint), token=env.gateway.token, mode=mode) as client:
            listed = {str(resource.uri) for resource in await h.list_all(client, "resources")}
            if endpoint == "gateway":
                assert listed == {uris["greeting"], uris["farewell"]}
            else:
                assert listed == {uris["greeting"]}
            read = await client.read_resource(uris["greeting"])
            assert len(read.contents) == 1
            assert read.contents[0].text == upstream_server.GREETING_TEXT
            assert read.contents[0].mime_type == "text/plain"

    h.run(body)


@pytest.mark.parametrize("mode", MODES)
def test_resource_templates(env: ClientEnv, mode: str) -> None:
    async def body() -> None:
        async with h.connect(env.url("gateway"), token=env.gateway.token, mode=mode) as client:
            templates = await h.list_all(client, "resource_templates")
            assert [t.uri_template for t in templates] == [env.upstream.uris["item_template"]]

    h.run(body)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("mode", MODES)
def test_prompts(env: ClientEnv, mode: str, endpoint: str) -> None:
    async def body() -> None:
        async with h.connect(env.url(endpoint), token=env.gateway.token, mode=mode) as client:
            prompts = {prompt.name: prompt for prompt in await h.list_all(client, "prompts")}
            originals = h.UPSTREAM_PROMPTS if endpoint == "gateway" else ["greet"]
            assert set(prompts) == {env.name(original) for original in originals}
            greet = prompts[env.name("greet")]
            assert [(a.name, a.required) for a in greet.arguments or []] == [("name", True)]
            result = await client.get_prompt(env.name("greet"), {"name": "Ada"})
            assert len(result.messages) == 1
            assert result.messages[0].role == "user"
            assert result.messages[0].content.text == "Please greet Ada warmly."

    h.run(body)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("mode", MODES)
def test_prompt_argument_completion(env: ClientEnv, mode: str, endpoint: str) -> None:
    """completion/complete on a prompt reaches the owning upstream under the prompt's original name."""

    async def body() -> None:
        async with h.connect(env.url(endpoint), token=env.gateway.token, mode=mode) as client:
            result = await client.complete(PromptReference(type="ref/prompt", name=env.name("greet")), {"name": "name", "value": "a"})
            expected = [v for v in upstream_server.NAME_COMPLETIONS if v.lower().startswith("a")]
            assert result.completion.values == expected, result
            with pytest.raises(MCPError) as refused:
                await client.complete(PromptReference(type="ref/prompt", name="no-such-prompt"), {"name": "name", "value": "a"})
            assert refused.value.error.code == -32602, refused.value

    h.run(body)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("mode", h.HANDSHAKE_MODES)
def test_ping(env: ClientEnv, mode: str, endpoint: str) -> None:
    async def body() -> None:
        async with h.connect(env.url(endpoint), token=env.gateway.token, mode=mode) as client:
            assert isinstance(await client.send_ping(), EmptyResult)

    h.run(body)


@pytest.mark.parametrize("mode", MODES)
def test_one_session_many_calls(env: ClientEnv, mode: str) -> None:
    """Several requests on one client: a legacy session stays usable, a modern client stays stateless."""

    async def body() -> None:
        async with h.connect(env.url("gateway"), token=env.gateway.token, mode=mode) as client:
            for i in range(5):
                result = await client.call_tool(env.name("echo"), {"text": f"call {i}"})
                assert result.content[0].text == f"call {i}"
            filler = await client.call_tool(env.name("t07"), {})
            assert filler.content[0].text == "t07"

    h.run(body)


@pytest.mark.parametrize("mode", ["modern", "legacy"])
def test_rejects_bad_token(env: ClientEnv, mode: str) -> None:
    """HTTP 401 fails the SDK's connect (surfaced as an MCPError inside anyio's exception groups)."""
    connected = False

    async def body() -> None:
        nonlocal connected
        async with h.connect(env.url("gateway"), token="not-a-token", mode=mode):
            connected = True

    with pytest.raises(BaseException) as raised:  # noqa: PT011 (checked below)
        h.run(body)
    assert not connected
    leaves = h.leaf_exceptions(raised.value)
    assert any(isinstance(leaf, MCPError) for leaf in leaves), leaves


def test_client_type() -> None:
    """The helper hands out the SDK's high-level client (guards against silently testing something else)."""
    assert Client.__module__ == "mcp.client.client"
