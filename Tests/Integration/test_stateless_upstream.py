"""An upstream that speaks only 2026-07-28: it refuses `initialize` (-32601) and answers
`server/discover`. The upstream is the official SDK's MCPServer behind a small wrapper of ours
(`upstream_server.py --refuse-initialize`). The gateway registers it after probing, shows its era,
and serves it to clients of both eras: each request carries the `_meta` envelope and the
`Mcp-Method`/`Mcp-Name` headers with the upstream's own names (the SDK checks them against the
body and refuses a mismatch), with no upstream session.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from websockets.sync.client import connect
from mcp.shared.exceptions import MCPError
from mcp.types import CreateMessageResult, ElicitResult, ErrorData, ListRootsResult, Root, TextContent

import mcp_helpers as h


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Stack]:
    workdir = tmp_path_factory.mktemp("stateless-upstream")
    upstream = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=workdir, refuse_initialize=True))
    try:
        gateway = h.or_fail(lambda: h.start_gateway(workdir, extra_env={"MCPGATEWAY_WS_RELAY_ENABLED": "true"}))
        try:
            with h.rest_client(gateway) as api:
                registered = h.register_gateway(api, "Modern Only", upstream)
                h.wait_for_tools(api, registered["id"], len(h.UPSTREAM_TOOLS))
            yield h.Stack(gateway=gateway, upstream=upstream, slug=h.slugify("Modern Only"))
        finally:
            gateway.stop()
    finally:
        upstream.stop()


def text_of(result: Any) -> str:
    assert not result.is_error, result
    assert isinstance(result.content[0], TextContent), result
    return result.content[0].text


def test_it_registers_and_shows_its_era(stack: h.Stack) -> None:
    with h.rest_client(stack.gateway) as api:
        [gateway] = [g for g in h.list_rest(api, "gateways") if g["name"] == "Modern Only"]
    assert gateway["protocolVersion"] == "2026-07-28", gateway
    assert gateway["reachable"] is True, gateway


@pytest.mark.parametrize("mode", ["modern", "legacy"])
def test_clients_of_both_eras_call_list_read_and_get(stack: h.Stack, mode: str) -> None:
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async def body() -> None:
        async with h.connect(stack.gateway.mcp_url, token=stack.gateway.token, mode=mode) as client:
            assert text_of(await client.call_tool(stack.tool("echo"), {"text": "über"})) == "über"
            assert json.loads(text_of(await client.call_tool(stack.tool("add"), {"a": 2, "b": 3}))) == {"sum": 5}
            done = await client.call_tool(stack.tool("progress"), {"steps": 3}, progress_callback=on_progress)
            assert text_of(done) == "done 3"
            uri = stack.upstream.uris["greeting"]
            read = await client.read_resource(uri)
            assert read.contents[0].text == h.upstream_server.GREETING_TEXT
            prompts = await h.list_all(client, "prompts")
            assert prompts, "the upstream's prompts are listed"

    h.run(body)
    assert progress == [1, 2, 3], progress


def slow_status(stack: h.Stack, tag: str) -> dict[str, bool]:
    payload, headers = h.modern_request("tools/call", {"name": stack.tool("slow_status"), "arguments": {"tag": tag}})
    with httpx.Client(timeout=10.0, headers={"Authorization": f"Bearer {stack.gateway.token}"}) as http:
        reply = h.rpc(http, stack.gateway.mcp_url, payload, headers=headers)
    return json.loads(reply.response()["result"]["content"][0]["text"])


def test_a_client_closing_its_request_cancels_the_upstream_request(stack: h.Stack) -> None:
    """No session to send `notifications/cancelled` in: the gateway closes its request."""
    tag = uuid.uuid4().hex
    body, headers = h.modern_request("tools/call", {"name": stack.tool("slow"), "arguments": {"seconds": 30, "tag": tag}})
    data = json.dumps(body).encode()
    host, port = stack.gateway.base_url.removeprefix("http://").rsplit(":", 1)
    lines = [
        "POST /mcp HTTP/1.1", f"Host: {host}:{port}", f"Authorization: Bearer {stack.gateway.token}",
        "Content-Type: application/json", "Accept: application/json", f"Content-Length: {len(data)}",
        *[f"{name}: {value}" for name, value in headers.items()],
    ]
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
    h.wait_until(lambda: slow_status(stack, tag)["started"] or None, timeout=10, what="the slow call to start")
    sock.close()
    closed = time.monotonic()
    h.wait_until(lambda: slow_status(stack, tag)["cancelled"] or None, timeout=10, interval=0.05, what="the cancel")
    assert time.monotonic() - closed < 1.0


async def sample(context: Any, params: Any) -> CreateMessageResult:
    prompt = params.messages[0].content.text
    return CreateMessageResult(role="assistant", content=TextContent(type="text", text=prompt.upper()), model="m")


async def elicit(context: Any, params: Any) -> ElicitResult:
    assert params.message == "What is your name?"
    return ElicitResult(action="accept", content={"name": "Ada"})


async def roots(context: Any) -> ListRootsResult:
    return ListRootsResult(roots=[Root(uri="file:///r/one")])


# The upstream answers `input_required` itself. A 2026-07-28 client ("modern") gets it passed
# through (its requestState sealed inside the gateway's); a 2025-11-25 client ("legacy") is asked
# on the call's stream by the gateway, which retries upstream with the answers.
@pytest.mark.parametrize("mode", ["modern", "legacy"])
@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("resolve_sampling", {"prompt": "abc"}, "resolved: ABC"),
        ("resolve_name", {}, "hello Ada"),
        ("resolve_roots", {}, "roots: file:///r/one"),
        ("resolve_twice", {"prompt": "xy"}, "XY / Ada"),
    ],
)
def test_questions_of_the_upstream_reach_clients_of_both_eras(
    stack: h.Stack, mode: str, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    async def body() -> None:
        async with h.connect(
            stack.gateway.mcp_url, token=stack.gateway.token, mode=mode,
            sampling_callback=sample, elicitation_callback=elicit, list_roots_callback=roots,
        ) as client:
            assert text_of(await client.call_tool(stack.tool(tool), arguments)) == expected

    h.run(body)


@pytest.mark.parametrize("mode", ["modern", "legacy"])
def test_a_client_without_the_capability_gets_a_clear_error(stack: h.Stack, mode: str) -> None:
    async def body() -> None:
        async with h.connect(stack.gateway.mcp_url, token=stack.gateway.token, mode=mode) as client:
            with pytest.raises(MCPError) as raised:
                result = await client.call_tool(stack.tool("resolve_sampling"), {"prompt": "x"})
                # Some clients see the upstream's refusal as a failed tool result instead.
                raise MCPError.from_error_data(ErrorData(code=0, message=text_of_error(result)))
            assert "sampling" in raised.value.error.message.lower(), raised.value.error

    h.run(body)


def text_of_error(result: Any) -> str:
    return result.content[0].text if result.content else str(result)


def test_the_upstreams_request_state_resumes_only_for_its_caller(stack: h.Stack) -> None:
    """Raw 2026-07-28: the requestState a client sees is the gateway's seal around the upstream's."""
    tool = stack.tool("resolve_sampling")
    auth = {"Authorization": f"Bearer {stack.gateway.token}"}

    def call(http: httpx.Client, request_id: int, **extra: Any) -> h.RpcReply:
        payload, headers = h.modern_request("tools/call", {"name": tool, "arguments": {"prompt": "raw"}, **extra}, request_id)
        payload["params"]["_meta"][h.CLIENT_CAPABILITIES_META_KEY] = {"sampling": {}}
        return h.rpc(http, stack.gateway.mcp_url, payload, headers=headers)

    with httpx.Client(timeout=30.0, headers=auth) as http:
        asked = call(http, 1).response(1)["result"]
        assert asked["resultType"] == "input_required", asked
        [(key, question)] = asked["inputRequests"].items()
        assert question["method"] == "sampling/createMessage"
        assert not asked["requestState"].startswith("v1."), "the upstream's own state is not shown as it is"
        answers = {key: {"role": "assistant", "content": {"type": "text", "text": "RAW"}, "model": "m"}}
    other = h.mint_token(stack.gateway, "mallory@example.com")
    with httpx.Client(timeout=30.0, headers={"Authorization": f"Bearer {other}"}) as http:
        error = call(http, 2, inputResponses=answers, requestState=asked["requestState"]).response(2)["error"]
        assert error["data"]["reason"] == "invalid_request_state", error
    with httpx.Client(timeout=30.0, headers=auth) as http:
        final = call(http, 3, inputResponses=answers, requestState=asked["requestState"]).response(3)["result"]
        assert final["content"][0]["text"] == "resolved: RAW", final


def test_a_legacy_sse_client_is_asked_on_its_stream(stack: h.Stack) -> None:
    async def body() -> None:
        async with h.connect(
            f"{stack.gateway.base_url}/sse", token=stack.gateway.token, mode="legacy", transport="sse",
            sampling_callback=sample,
        ) as client:
            assert text_of(await client.call_tool(stack.tool("resolve_sampling"), {"prompt": "sse"})) == "resolved: SSE"

    h.run(body)


def test_a_websocket_client_is_asked_on_its_socket(stack: h.Stack) -> None:
    url = stack.gateway.base_url.replace("http://", "ws://") + "/ws"
    with connect(url, additional_headers={"Authorization": f"Bearer {stack.gateway.token}"}) as socket:
        init = {"protocolVersion": h.LEGACY_VERSION, "capabilities": {"sampling": {}}, "clientInfo": h.CLIENT_INFO}
        socket.send(json.dumps(h.request("initialize", init, 0)))
        assert "result" in json.loads(socket.recv(timeout=30))
        socket.send(json.dumps(h.notification("notifications/initialized")))
        socket.send(json.dumps(h.request("tools/call", {"name": stack.tool("resolve_sampling"), "arguments": {"prompt": "ws"}}, 1)))
        asked = json.loads(socket.recv(timeout=30))
        assert asked["method"] == "sampling/createMessage", asked
        answer = {"role": "assistant", "content": {"type": "text", "text": "WS"}, "model": "m"}
        socket.send(json.dumps({"jsonrpc": "2.0", "id": asked["id"], "result": answer}))
        final = json.loads(socket.recv(timeout=30))
        assert final["id"] == 1 and final["result"]["content"][0]["text"] == "resolved: WS", final


def test_logs_of_a_2026_upstream_reach_clients_of_both_eras_at_their_level(stack: h.Stack) -> None:
    """Its logs are per request: the gateway asks for them at the level each client wants."""
    received: list[str] = []

    async def on_log(params: Any) -> None:
        received.append(params.level)

    async def body() -> None:
        async with h.connect(stack.gateway.mcp_url, token=stack.gateway.token, mode="legacy", logging_callback=on_log) as client:
            assert text_of(await client.call_tool(stack.tool("chatty"), {})) == "logged"
            assert received == list(h.upstream_server.LOG_LEVELS), received
            received.clear()
            await client.set_logging_level("warning")
            assert text_of(await client.call_tool(stack.tool("chatty"), {})) == "logged"
            assert received == ["warning", "error"], received
        received.clear()
        async with h.connect(stack.gateway.mcp_url, token=stack.gateway.token, mode="modern", logging_callback=on_log) as client:
            assert text_of(await client.call_tool(stack.tool("chatty"), {})) == "logged"
            assert received == [], "2026-07-28 logs are opt-in per request"
        async with h.connect(
            stack.gateway.mcp_url, token=stack.gateway.token, mode="modern", logging_callback=on_log, log_level="error"
        ) as client:
            assert text_of(await client.call_tool(stack.tool("chatty"), {})) == "logged"
            assert received == ["error"], received

    h.run(body)


def test_an_upstream_that_changes_era_is_probed_again(stack: h.Stack, tmp_path: Any) -> None:
    """An upstream restarted as 2026-07-28-only on the same address: its old session is unknown
    (404), initialize is refused, server/discover answers; the leader re-lists it and its record
    shows the new era."""
    port = h.free_port()

    def era() -> str:
        with h.rest_client(stack.gateway) as api:
            return next(g for g in h.list_rest(api, "gateways") if g["name"] == "Switching")["protocolVersion"]

    async def echo(text: str) -> None:
        async with h.connect(stack.gateway.mcp_url, token=stack.gateway.token, mode="legacy") as client:
            assert text_of(await client.call_tool(h.prefixed("switching", "echo"), {"text": text})) == text

    first = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=tmp_path, port=port, namespace="sw"))
    try:
        with h.rest_client(stack.gateway) as api:
            registered = h.register_gateway(api, "Switching", first)
            h.wait_for_tools(api, registered["id"], len(h.UPSTREAM_TOOLS))
        assert era() == "2025-11-25"
        h.run(echo, "before")
    finally:
        first.stop()
    second = h.or_fail(
        lambda: h.start_upstream("streamable-http", log_dir=tmp_path, port=port, namespace="sw", refuse_initialize=True)
    )
    try:
        h.run(echo, "after")
        h.wait_until(lambda: era() == "2026-07-28" or None, timeout=10, what="the record to show the new era")
        with h.rest_client(stack.gateway) as api:
            h.ok_json(api.delete(f"/gateways/{registered['id']}"), 200, 204)
    finally:
        second.stop()


def test_its_list_changes_are_heard_through_subscriptions_listen(stack: h.Stack) -> None:
    """No session, so no GET stream: the gateway listens with `subscriptions/listen`, and a tool
    the upstream adds is in the catalog within seconds (not at the next periodic re-listing)."""
    name = f"grown{uuid.uuid4().hex[:6]}"
    # Past the re-listing of every upstream at the leader's first term (about a second after
    # start), which would list the new tool as well.
    time.sleep(2)

    async def body() -> None:
        async with h.connect(stack.gateway.mcp_url, token=stack.gateway.token, mode="legacy") as client:
            assert text_of(await client.call_tool(stack.tool("grow"), {"name": name})) == f"added {name}"

    h.run(body)

    def listed() -> bool | None:
        with h.rest_client(stack.gateway) as api:
            return stack.tool(name) in {tool["name"] for tool in h.list_rest(api, "tools")} or None

    h.wait_until(listed, timeout=5, what="the new tool in the gateway's catalog")


def test_resource_updates_of_a_2026_upstream_reach_a_subscribed_client(stack: h.Stack) -> None:
    """2026-07-28 has no resources/subscribe: the gateway adds the URI to its listen request."""
    uri = stack.upstream.uris["greeting"]
    updates: list[str] = []

    async def on_message(message: Any) -> None:
        inner = getattr(message, "root", message)
        if getattr(inner, "method", None) == "notifications/resources/updated":
            updates.append(str(inner.params.uri))

    async def body() -> None:
        async with h.connect(
            stack.gateway.mcp_url, token=stack.gateway.token, mode="legacy", message_handler=on_message
        ) as client:
            await anyio.sleep(0.3)  # its GET stream open
            await client.subscribe_resource(uri)
            with anyio.fail_after(10):
                while not updates:
                    await client.call_tool(stack.tool("touch"), {"uri": uri})
                    await anyio.sleep(0.2)
            assert set(updates) == {uri}, updates

    h.run(body)


def test_a_2025_clients_cancellation_closes_the_upstream_request(stack: h.Stack) -> None:
    """`notifications/cancelled` from a session client: a 2026-07-28 upstream has no session to
    send it in, so the gateway closes the call's request."""
    tag = uuid.uuid4().hex
    auth = {"Authorization": f"Bearer {stack.gateway.token}"}
    with httpx.Client(timeout=60.0, headers=auth) as http:
        session_id, _ = h.legacy_initialize(http, stack.gateway.mcp_url)
        headers = {"Mcp-Session-Id": session_id, "MCP-Protocol-Version": h.LEGACY_VERSION}
        call = h.request("tools/call", {"name": stack.tool("slow"), "arguments": {"seconds": 30, "tag": tag}}, 41)
        outcome: dict[str, Any] = {}

        def run() -> None:
            outcome["reply"] = h.rpc(http, stack.gateway.mcp_url, call, headers=headers)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        h.wait_until(lambda: slow_status(stack, tag)["started"] or None, timeout=10, what="the slow call to start")
        cancel = h.notification("notifications/cancelled", {"requestId": 41, "reason": "test"})
        with httpx.Client(timeout=10.0, headers=auth) as other:
            assert h.rpc(other, stack.gateway.mcp_url, cancel, headers=headers).status == 202
        sent = time.monotonic()
        h.wait_until(lambda: slow_status(stack, tag)["cancelled"] or None, timeout=10, interval=0.05, what="the cancel")
        assert time.monotonic() - sent < 1.0
        thread.join(timeout=10)
        assert outcome["reply"].error_code(41) == -32800


def test_an_upstream_of_both_eras_is_spoken_to_at_2026_when_preferred(tmp_path: Any) -> None:
    """UPSTREAM_PREFERRED_PROTOCOL_VERSION=2026-07-28: server/discover first. The SDK upstream
    speaks both eras; it is registered at 2026-07-28 and its resolver tools ask through
    input_required, translated for a 2025-11-25 client and passed through to a 2026-07-28 one."""
    upstream = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=tmp_path))
    try:
        gateway = h.or_fail(
            lambda: h.start_gateway(tmp_path, extra_env={"UPSTREAM_PREFERRED_PROTOCOL_VERSION": "2026-07-28"})
        )
        try:
            with h.rest_client(gateway) as api:
                registered = h.register_gateway(api, "Both Eras", upstream)
                h.wait_for_tools(api, registered["id"], len(h.UPSTREAM_TOOLS))
                [record] = [g for g in h.list_rest(api, "gateways") if g["id"] == registered["id"]]
            assert record["protocolVersion"] == "2026-07-28", record
            tool = h.prefixed("both-eras", "resolve_sampling")

            async def body(mode: str) -> None:
                async with h.connect(gateway.mcp_url, token=gateway.token, mode=mode, sampling_callback=sample) as client:
                    assert text_of(await client.call_tool(tool, {"prompt": mode})) == f"resolved: {mode.upper()}"

            h.run(body, "legacy")
            h.run(body, "modern")
        finally:
            gateway.stop()
    finally:
        upstream.stop()
