"""2026-07-28 clients of upstreams that ask on the call's stream (2025-11-25): `input_required`.

The upstream is the official SDK's MCPServer, spoken to at 2025-11-25: during a call it sends
`sampling/createMessage`, `elicitation/create` or `roots/list` on the call's stream. A 2026-07-28
client cannot be asked that way, so the gateway answers its call with `resultType:
"input_required"`, the questions as `inputRequests` and a sealed `requestState`; the client's retry
brings `inputResponses` and the upstream call, still running, goes on. The client is `mcp.Client`
in its default mode (which negotiates 2026-07-28), or raw HTTP where the test is about the wire.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mcp.types import CreateMessageResult, ElicitResult, ListRootsResult, Root, TextContent

import mcp_helpers as h


@pytest.fixture(scope="module", params=["streamable-http", "sse"])
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Stack]:
    """A gateway with one upstream over streamable HTTP (questions on the call's stream) or
    legacy SSE (on the upstream's shared stream, sorted to calls by the gateway)."""
    workdir = tmp_path_factory.mktemp(f"input-required-{request.param}")
    with h.private_stack(workdir, "Asking Upstream", transport=request.param) as stack:
        yield stack


def text_of(result: Any) -> str:
    assert not result.is_error, result
    assert result.content and isinstance(result.content[0], TextContent), f"unexpected result: {result}"
    return result.content[0].text


async def sample(context: Any, params: Any) -> CreateMessageResult:
    prompt = params.messages[0].content.text
    return CreateMessageResult(
        role="assistant", content=TextContent(type="text", text=f"model says {prompt[::-1]}"), model="test-model"
    )


async def elicit(context: Any, params: Any) -> ElicitResult:
    assert params.message == "What is your name?"
    return ElicitResult(action="accept", content={"name": "Ada"})


async def roots(context: Any) -> ListRootsResult:
    return ListRootsResult(roots=[Root(uri="file:///work/a", name="a"), Root(uri="file:///work/b")])


def test_the_sdk_default_mode_samples_through_input_required(env: h.Stack) -> None:
    async def body() -> None:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token, mode="modern", sampling_callback=sample) as client:
            result = await client.call_tool(env.tool("ask_sampling"), {"prompt": "gateway"})
            assert text_of(result) == "sampled: model says yawetag"

    h.run(body)


def test_elicitation_through_input_required(env: h.Stack) -> None:
    async def body() -> None:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token, mode="modern", elicitation_callback=elicit) as client:
            assert text_of(await client.call_tool(env.tool("ask_name"), {})) == "hello Ada"

    h.run(body)


def test_roots_through_input_required(env: h.Stack) -> None:
    async def body() -> None:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token, mode="modern", list_roots_callback=roots) as client:
            assert text_of(await client.call_tool(env.tool("ask_roots"), {})) == "roots: file:///work/a,file:///work/b"

    h.run(body)


def test_two_questions_in_one_call_take_two_rounds(env: h.Stack) -> None:
    asked: list[str] = []

    async def sample_noting(context: Any, params: Any) -> CreateMessageResult:
        asked.append("sampling")
        return await sample(context, params)

    async def elicit_noting(context: Any, params: Any) -> ElicitResult:
        asked.append("elicitation")
        return await elicit(context, params)

    async def body() -> None:
        async with h.connect(
            env.gateway.mcp_url,
            token=env.gateway.token,
            mode="modern",
            sampling_callback=sample_noting,
            elicitation_callback=elicit_noting,
        ) as client:
            result = await client.call_tool(env.tool("ask_twice"), {"prompt": "abc"})
            assert text_of(result) == "model says cba / Ada"
            assert asked == ["sampling", "elicitation"]

    h.run(body)


def call(http: httpx.Client, env: h.Stack, tool: str, arguments: dict[str, Any], request_id: int, **extra: Any) -> h.RpcReply:
    payload, headers = h.modern_request("tools/call", {"name": env.tool(tool), "arguments": arguments, **extra}, request_id)
    payload["params"]["_meta"][h.CLIENT_CAPABILITIES_META_KEY] = {"sampling": {}, "elicitation": {}}
    return h.rpc(http, env.gateway.mcp_url, payload, headers=headers)


def answer(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": {"type": "text", "text": text}, "model": "raw"}


def test_the_wire_of_input_required_and_its_retry(env: h.Stack) -> None:
    auth = {"Authorization": f"Bearer {env.gateway.token}"}
    with httpx.Client(timeout=30.0, headers=auth) as http:
        first = call(http, env, "ask_sampling", {"prompt": "wire"}, 1)
        assert first.status == 200, first.raw
        result = first.response(1)["result"]
        assert result["resultType"] == "input_required", result
        assert isinstance(result["requestState"], str) and result["requestState"]
        [(key, question)] = result["inputRequests"].items()
        assert question["method"] == "sampling/createMessage", question
        assert question["params"]["messages"][0]["content"]["text"] == "wire"

        retry = call(
            http, env, "ask_sampling", {"prompt": "wire"}, 2,
            inputResponses={key: answer("from the retry")}, requestState=result["requestState"],
        )
        assert retry.status == 200, retry.raw
        final = retry.response(2)["result"]
        assert final.get("resultType", "complete") == "complete", final
        assert final["content"][0]["text"] == "sampled: from the retry"

        # The call has ended: its requestState resumes nothing, and says so.
        again = call(
            http, env, "ask_sampling", {"prompt": "wire"}, 3,
            inputResponses={key: answer("late")}, requestState=result["requestState"],
        )
        error = again.response(3)["error"]
        assert error["code"] == -32602 and error["data"]["reason"] == "call_ended", error


def test_a_forged_or_foreign_request_state_resumes_nothing(env: h.Stack) -> None:
    auth = {"Authorization": f"Bearer {env.gateway.token}"}
    with httpx.Client(timeout=30.0, headers=auth) as http:
        result = call(http, env, "ask_sampling", {"prompt": "mine"}, 1).response(1)["result"]
        state = result["requestState"]
        [key] = result["inputRequests"]
        responses = {key: answer("stolen")}

        def refused(reply: h.RpcReply, request_id: int) -> None:
            error = reply.response(request_id)["error"]
            assert error["code"] == -32602, error
            assert error["data"]["reason"] == "invalid_request_state", error
            assert reply.status == 400, reply.status

        # Altered by one character: it does not open.
        forged = state[:-2] + ("A" if state[-2] != "A" else "B") + state[-1]
        refused(call(http, env, "ask_sampling", {"prompt": "mine"}, 2, inputResponses=responses, requestState=forged), 2)
        # Sealed for another call: a different tool.
        refused(call(http, env, "ask_name", {}, 3, inputResponses=responses, requestState=state), 3)

    # Another principal with the right state and the right tool.
    other = h.mint_token(env.gateway, "mallory@example.com")
    with httpx.Client(timeout=30.0, headers={"Authorization": f"Bearer {other}"}) as http:
        refused(call(http, env, "ask_sampling", {"prompt": "mine"}, 4, inputResponses=responses, requestState=state), 4)

    # The rightful client still resumes its call.
    with httpx.Client(timeout=30.0, headers=auth) as http:
        final = call(http, env, "ask_sampling", {"prompt": "mine"}, 5, inputResponses={key: answer("mine")}, requestState=state)
        assert final.response(5)["result"]["content"][0]["text"] == "sampled: mine"


def test_a_2025_client_is_asked_for_its_roots_on_its_stream(env: h.Stack) -> None:
    """The handshake-era pair, for completeness of the four: roots/list on the call's stream."""
    async def body() -> None:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token, mode="legacy", list_roots_callback=roots) as client:
            assert text_of(await client.call_tool(env.tool("ask_roots"), {})) == "roots: file:///work/a,file:///work/b"

    h.run(body)
