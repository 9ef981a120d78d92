"""The other client transports: legacy HTTP+SSE (`/sse` + `/message`, also per virtual server)
with the official SDK's `sse_client`, and plain JSON-RPC on `/rpc`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from mcp.types import CreateMessageResult, TextContent

import mcp_helpers as h


@dataclass
class TransportEnv:
    stack: h.Stack
    server_id: str

    @property
    def gateway(self) -> h.Gateway:
        return self.stack.gateway


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TransportEnv]:
    workdir = tmp_path_factory.mktemp("transports")
    with h.private_stack(workdir, "Transport Upstream") as stack:
        with h.rest_client(stack.gateway) as api:
            tools = {t["originalName"]: t["id"] for t in h.list_rest(api, "tools")}
            server = {"name": f"Transports {uuid.uuid4().hex[:6]}", "associated_tools": [tools["echo"]]}
            created = h.ok_json(api.post("/servers", json={"server": server}), 201)
        yield TransportEnv(stack=stack, server_id=created["id"])


def sse_url(env: TransportEnv, server_id: str | None = None) -> str:
    base = env.gateway.base_url
    return f"{base}/servers/{server_id}/sse" if server_id else f"{base}/sse"


def test_sdk_sse_client_lists_and_calls(env: TransportEnv) -> None:
    async def body() -> None:
        async with h.connect(sse_url(env), token=env.gateway.token, mode="legacy", transport="sse") as client:
            names = {tool.name for tool in await h.list_all(client, "tools")}
            assert names == {env.stack.tool(name) for name in h.UPSTREAM_TOOLS}
            result = await client.call_tool(env.stack.tool("echo"), {"text": "over sse"})
            assert result.content[0].text == "over sse"

    h.run(body)


def test_sdk_sse_client_on_a_virtual_server_sees_its_tools_only(env: TransportEnv) -> None:
    async def body() -> None:
        url = sse_url(env, env.server_id)
        async with h.connect(url, token=env.gateway.token, mode="legacy", transport="sse") as client:
            assert {tool.name for tool in await h.list_all(client, "tools")} == {env.stack.tool("echo")}

    h.run(body)


def test_progress_and_sampling_ride_the_sse_stream(env: TransportEnv) -> None:
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async def sample(context: Any, params: Any) -> CreateMessageResult:
        return CreateMessageResult(role="assistant", content=TextContent(type="text", text="from sse"), model="m")

    async def body() -> None:
        async with h.connect(
            sse_url(env), token=env.gateway.token, mode="legacy", transport="sse", sampling_callback=sample
        ) as client:
            result = await client.call_tool(env.stack.tool("progress"), {"steps": 3}, progress_callback=on_progress)
            assert result.content[0].text == "done 3"
            assert progress == [1.0, 2.0, 3.0]
            sampled = await client.call_tool(env.stack.tool("ask_sampling"), {"prompt": "p"})
            assert sampled.content[0].text == "sampled: from sse"

    h.run(body)


def test_message_endpoint_refuses_unknown_or_foreign_sessions(env: TransportEnv) -> None:
    auth = {"Authorization": f"Bearer {env.gateway.token}"}
    other = {"Authorization": f"Bearer {h.mint_token(env.gateway, username='someone-else@example.com')}"}
    ping = h.request("ping", None, 1)
    with httpx.Client(base_url=env.gateway.base_url, timeout=30.0) as http:
        assert http.post("/message?session_id=nope", json=ping, headers=auth).status_code == 404
        assert http.post("/message", json=ping, headers=auth).status_code == 404
        with http.stream("GET", "/sse", headers={**auth, "Accept": "text/event-stream"}) as stream:
            lines = stream.iter_lines()
            assert next(lines) == "event: endpoint"
            endpoint = next(lines).removeprefix("data: ")
            assert endpoint.startswith("/message?session_id=")
            # Another principal cannot post into this session, nor can the virtual server's endpoint.
            assert http.post(endpoint, json=ping, headers=other).status_code == 404
            assert http.post(f"/servers/{env.server_id}{endpoint}", json=ping, headers=auth).status_code == 404
            bad = http.post(endpoint, content=b"{not json", headers=auth)
            assert bad.status_code == 400 and bad.json()["error"]["code"] == -32700
            assert http.post(endpoint, json=ping, headers=auth).status_code == 202
        assert http.get("/sse").status_code == 401


def rpc(env: TransportEnv, payload: Any, *, content: bytes | None = None, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or env.gateway.token}", "Content-Type": "application/json"}
    body = content if content is not None else httpx.Request("POST", "/", json=payload).content
    return httpx.post(f"{env.gateway.base_url}/rpc", content=body, headers=headers, timeout=30.0)


def test_rpc_serves_plain_json_rpc(env: TransportEnv) -> None:
    listed = rpc(env, h.request("tools/list", None, 1))
    assert listed.status_code == 200 and listed.headers["content-type"].startswith("application/json")
    assert {t["name"] for t in listed.json()["result"]["tools"]} >= {env.stack.tool("echo")}
    called = rpc(env, h.request("tools/call", {"name": env.stack.tool("echo"), "arguments": {"text": "rpc"}}, 2))
    assert called.json()["result"]["content"][0]["text"] == "rpc"
    assert rpc(env, h.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {}}, 3)).json()[
        "result"
    ]["protocolVersion"] == "2025-06-18"


def test_rpc_does_not_take_unknown_methods_for_tool_names(env: TransportEnv) -> None:
    reply = rpc(env, h.request(env.stack.tool("echo"), {"text": "x"}, 4))
    assert reply.json()["error"]["code"] == -32601


def test_rpc_refusals(env: TransportEnv) -> None:
    batch = rpc(env, [h.request("tools/list", None, 1)])
    assert batch.status_code == 400 and batch.json()["error"]["code"] == -32600
    broken = rpc(env, None, content=b'{"jsonrpc":"2.0","id":1,"method":')
    assert broken.status_code == 400 and broken.json()["error"]["code"] == -32700
    assert rpc(env, h.notification("notifications/initialized")).status_code == 202
    anonymous = httpx.post(f"{env.gateway.base_url}/rpc", json=h.request("tools/list"), timeout=30.0)
    assert anonymous.status_code == 401


def test_request_ids_are_bounded_and_an_oversized_one_is_not_echoed(env: TransportEnv) -> None:
    """An id is kept, echoed, logged and replayed, so its size is capped (256 bytes of JSON)."""
    longest = "i" * 254  # 256 bytes with its quotes
    assert rpc(env, h.request("ping", None, longest)).json()["id"] == longest
    for oversized in ["i" * 255, "x" * (2 << 20), int("9" * 300)]:
        answer = rpc(env, h.request("ping", None, oversized))
        assert answer.status_code == 400, answer.text[:200]
        body = answer.json()
        assert body["id"] is None and body["error"]["code"] in (-32600, -32700), body
        assert len(answer.content) < 1024, "the refusal does not carry the id back"
