"""Traffic from upstream to client during a call, through the gateway, with the official SDK.

The upstream (MCPServer over streamable HTTP, and again over legacy SSE) reports progress, logs, asks the client to sample
and to elicit, and sleeps until cancelled; the client is `mcp.Client` in the handshake era
(2025-11-25, Mcp-Session-Id) and in the stateless era (2026-07-28), or raw HTTP where the test is
about the wire (cancellation, stream switching).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import CreateMessageResult, ElicitResult, TextContent

import mcp_helpers as h
import upstream_server

KEEPALIVE_SECONDS = 1  # SSE_KEEPALIVE_INTERVAL of this module's gateway


@pytest.fixture(scope="module", params=["streamable-http", "sse"])
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Stack]:
    """A gateway with one upstream over streamable HTTP (in-call traffic on the call's own
    stream) or legacy SSE (on the upstream's shared stream, sorted to calls by the gateway)."""
    workdir = tmp_path_factory.mktemp(f"relay-{request.param}")
    with h.private_stack(
        workdir, "Relay Upstream", transport=request.param,
        extra_env={"SSE_KEEPALIVE_INTERVAL": str(KEEPALIVE_SECONDS)},
    ) as stack:
        yield stack


MODES = ["legacy", "modern"]


def text_of(result: Any) -> str:
    assert result.content and isinstance(result.content[0], TextContent), f"unexpected result: {result}"
    return result.content[0].text


@pytest.mark.parametrize("mode", MODES)
def test_progress_arrives_in_order_before_the_result(env: h.Stack, mode: str) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async def body() -> None:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token, mode=mode) as client:
            result = await client.call_tool(env.tool("progress"), {"steps": 5}, progress_callback=on_progress)
            assert text_of(result) == "done 5"
            assert seen == [(float(i), 5.0, f"step {i}") for i in range(1, 6)], seen

    h.run(body)


def test_logging_is_relayed_and_honours_set_level(env: h.Stack) -> None:
    received: list[tuple[str, Any]] = []

    async def on_log(params: Any) -> None:
        received.append((params.level, params.data))

    async def body() -> None:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token, mode="legacy", logging_callback=on_log) as client:
            assert text_of(await client.call_tool(env.tool("chatty"), {})) == "logged"
            assert received == [(level, f"{level} message") for level in upstream_server.LOG_LEVELS], received
            received.clear()
            await client.set_logging_level("warning")
            assert text_of(await client.call_tool(env.tool("chatty"), {})) == "logged"
            assert received == [("warning", "warning message"), ("error", "error message")], received

    h.run(body)


def test_logging_in_2026_only_when_asked(env: h.Stack) -> None:
    received: list[str] = []

    async def on_log(params: Any) -> None:
        received.append(params.level)

    async def body() -> None:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token, mode="modern", logging_callback=on_log) as client:
            assert text_of(await client.call_tool(env.tool("chatty"), {})) == "logged"
            assert received == [], "2026-07-28 logs are opt-in per request"
        async with h.connect(
            env.gateway.mcp_url, token=env.gateway.token, mode="modern", logging_callback=on_log, log_level="warning"
        ) as client:
            assert text_of(await client.call_tool(env.tool("chatty"), {})) == "logged"
            assert received == ["warning", "error"], received

    h.run(body)


def test_sampling_round_trip(env: h.Stack) -> None:
    asked: list[str] = []

    async def sample(context: Any, params: Any) -> CreateMessageResult:
        prompt = params.messages[0].content.text
        asked.append(prompt)
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text=f"model says {prompt[::-1]}"), model="test-model"
        )

    async def body() -> None:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token, mode="legacy", sampling_callback=sample) as client:
            result = await client.call_tool(env.tool("ask_sampling"), {"prompt": "gateway"})
            assert not result.is_error, result
            assert text_of(result) == "sampled: model says yawetag"
            assert asked == ["gateway"]

    h.run(body)


def test_a_request_the_upstream_withdraws_is_withdrawn_from_the_client(env: h.Stack) -> None:
    outcome: dict[str, Any] = {}

    async def slow_sample(context: Any, params: Any) -> CreateMessageResult:
        outcome["asked"] = time.monotonic()
        try:
            await anyio.sleep(20)
        except anyio.get_cancelled_exc_class():
            outcome["withdrawn"] = time.monotonic()
            raise
        return CreateMessageResult(role="assistant", content=TextContent(type="text", text="late"), model="m")

    async def body() -> None:
        async with h.connect(
            env.gateway.mcp_url, token=env.gateway.token, mode="legacy", sampling_callback=slow_sample
        ) as client:
            result = await client.call_tool(env.tool("ask_briefly"), {"seconds": 1})
            assert text_of(result) == "gave up"
            with anyio.fail_after(5):
                while "withdrawn" not in outcome:
                    await anyio.sleep(0.05)

    h.run(body)
    assert outcome["withdrawn"] - outcome["asked"] < 5, "the client's handler was cancelled when the upstream gave up"


def test_elicitation_round_trip(env: h.Stack) -> None:
    async def elicit(context: Any, params: Any) -> ElicitResult:
        assert params.message == "What is your name?"
        return ElicitResult(action="accept", content={"name": "Ada"})

    async def body() -> None:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token, mode="legacy", elicitation_callback=elicit) as client:
            assert text_of(await client.call_tool(env.tool("ask_name"), {})) == "hello Ada"

    h.run(body)


@pytest.mark.parametrize("mode", MODES)
def test_request_to_client_without_the_capability_fails_fast(env: h.Stack, mode: str) -> None:
    async def body() -> None:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token, mode=mode) as client:
            started = time.monotonic()
            # MCPServer passes the client's error on as the call's JSON-RPC error.
            with pytest.raises(MCPError) as raised:
                await client.call_tool(env.tool("ask_sampling"), {"prompt": "x"})
            assert "sampling/createMessage" in raised.value.error.message, raised.value.error
            assert time.monotonic() - started < 5, "the upstream must get an error at once, not wait"

    h.run(body)


def slow_status(env: h.Stack, tag: str) -> dict[str, bool]:
    async def body() -> dict[str, bool]:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token, mode="modern") as client:
            return json.loads(text_of(await client.call_tool(env.tool("slow_status"), {"tag": tag})))

    return h.run(body)


def start_in_thread(target: Any) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = target()
        except BaseException as exc:  # reported by the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_cancelled_notification_cancels_the_upstream_call(env: h.Stack) -> None:
    tag = uuid.uuid4().hex
    auth = {"Authorization": f"Bearer {env.gateway.token}"}
    with httpx.Client(timeout=60.0, headers=auth) as http:
        session_id, _ = h.legacy_initialize(http, env.gateway.mcp_url)
        headers = {"Mcp-Session-Id": session_id, "MCP-Protocol-Version": h.LEGACY_VERSION}
        call = h.request("tools/call", {"name": env.tool("slow"), "arguments": {"seconds": 30, "tag": tag}}, 41)
        thread, outcome = start_in_thread(lambda: h.rpc(http, env.gateway.mcp_url, call, headers=headers))
        h.wait_until(lambda: slow_status(env, tag)["started"] or None, timeout=10, what="the slow call to start")
        started = time.monotonic()
        cancel = h.notification("notifications/cancelled", {"requestId": 41, "reason": "test"})
        with httpx.Client(timeout=10.0, headers=auth) as other:
            ack = h.rpc(other, env.gateway.mcp_url, cancel, headers=headers)
        assert ack.status == 202, ack.raw
        thread.join(timeout=10)
        assert not thread.is_alive(), "the cancelled call did not end"
        assert time.monotonic() - started < 5
        assert "error" not in outcome, outcome
        assert outcome["value"].error_code(41) == -32800
    h.wait_until(lambda: slow_status(env, tag)["cancelled"] or None, timeout=10, what="the upstream to see the cancel")


def test_closing_a_2026_response_stream_cancels_the_upstream_call(env: h.Stack) -> None:
    tag = uuid.uuid4().hex
    payload, headers = h.modern_request("tools/call", {"name": env.tool("slow"), "arguments": {"seconds": 30, "tag": tag}})
    headers.update({"Authorization": f"Bearer {env.gateway.token}", "Accept": h.ACCEPT_BOTH})
    with httpx.Client(timeout=30.0) as http:
        with http.stream("POST", env.gateway.mcp_url, json=payload, headers=headers) as resp:
            # A call still running after one keep-alive interval is answered as a stream.
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            first = next(resp.iter_lines())
            assert first.startswith(":"), first
    h.wait_until(
        lambda: slow_status(env, tag)["cancelled"] or None,
        timeout=5 + 2 * KEEPALIVE_SECONDS,
        what="the upstream to see the cancel",
    )


def test_answer_for_an_unknown_request_is_refused(env: h.Stack) -> None:
    with httpx.Client(timeout=30.0, headers={"Authorization": f"Bearer {env.gateway.token}"}) as http:
        session_id, _ = h.legacy_initialize(http, env.gateway.mcp_url)
        headers = {"Mcp-Session-Id": session_id, "MCP-Protocol-Version": h.LEGACY_VERSION}
        answer = {"jsonrpc": "2.0", "id": "gw-nope-1", "result": {}}
        reply = h.rpc(http, env.gateway.mcp_url, answer, headers=headers)
        assert reply.status == 404
        assert reply.error_code() == -32600


def test_set_level_rejects_unknown_levels(env: h.Stack) -> None:
    with httpx.Client(timeout=30.0, headers={"Authorization": f"Bearer {env.gateway.token}"}) as http:
        session_id, _ = h.legacy_initialize(http, env.gateway.mcp_url)
        headers = {"Mcp-Session-Id": session_id, "MCP-Protocol-Version": h.LEGACY_VERSION}
        reply = h.rpc(http, env.gateway.mcp_url, h.request("logging/setLevel", {"level": "loud"}, 3), headers=headers)
        assert reply.error_code(3) == -32602


def test_a_2025_03_26_batch_sets_the_log_level_and_subscribes(env: h.Stack) -> None:
    """A batch goes through the same session engine as single messages: `logging/setLevel` in it
    sets the level the session's later calls are filtered by, `resources/subscribe` is answered
    by the gateway (not "method not found")."""
    with httpx.Client(timeout=30.0, headers={"Authorization": f"Bearer {env.gateway.token}"}) as http:
        session_id, _ = h.legacy_initialize(http, env.gateway.mcp_url, version="2025-03-26")
        headers = {"Mcp-Session-Id": session_id, "MCP-Protocol-Version": "2025-03-26"}
        batch = [
            h.request("logging/setLevel", {"level": "warning"}, 1),
            h.request("resources/subscribe", {"uri": "data://nope"}, 2),
            h.request("resources/subscribe", {}, 3),
        ]
        reply = h.rpc(http, env.gateway.mcp_url, batch, headers=headers)
        assert reply.status == 200, reply.raw
        assert reply.response(1)["result"] == {}, reply.messages
        assert reply.error_code(2) == -32002, reply.messages
        assert reply.error_code(3) == -32602, reply.messages
        call = h.request("tools/call", {"name": env.tool("chatty"), "arguments": {}}, 4)
        streamed = h.rpc(http, env.gateway.mcp_url, call, headers={**headers, "Accept": h.ACCEPT_BOTH})
        levels = [m["params"]["level"] for m in streamed.messages if m.get("method") == "notifications/message"]
        assert levels == ["warning", "error"], streamed.messages
