"""The GET stream of stateful sessions: list changes announced, and resumption with Last-Event-ID.

A private gateway (keep-alive every second) with one streamable-HTTP upstream; a second upstream
is registered and deleted through REST to change the catalog. The official SDK client checks
that announcements arrive; raw HTTP checks the event ids and what a reconnecting client is sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
from mcp.types import ServerNotification

import mcp_helpers as h

LIST_CHANGED = [
    "notifications/tools/list_changed",
    "notifications/resources/list_changed",
    "notifications/prompts/list_changed",
]


@dataclass
class StreamEnv:
    stack: h.Stack
    spare: h.Upstream

    @property
    def gateway(self) -> h.Gateway:
        return self.stack.gateway

    def tool(self, original: str) -> str:
        return self.stack.tool(original)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamEnv]:
    workdir = tmp_path_factory.mktemp("streams")
    spare = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=workdir, namespace="spare"))
    try:
        with h.private_stack(workdir, "Stream Upstream", extra_env={"SSE_KEEPALIVE_INTERVAL": "1"}) as stack:
            yield StreamEnv(stack=stack, spare=spare)
    finally:
        spare.stop()


def change_catalog(env: StreamEnv) -> None:
    """Registers the spare upstream and deletes it again: two changes to tools, resources, prompts."""
    with h.rest_client(env.gateway) as api:
        created = h.register_gateway(api, f"Spare {time.monotonic_ns()}", env.spare)
        h.ok_json(api.delete(f"/gateways/{created['id']}"), 200, 204)


class EventReader:
    """Reads (id, message) pairs from an open SSE response; comments and priming events count
    as activity only."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.iter_lines()

    def next_event(self, timeout: float = 10.0) -> tuple[str | None, Any]:
        deadline = time.monotonic() + timeout
        event_id: str | None = None
        data: list[str] = []
        while time.monotonic() < deadline:
            line = next(self.lines)
            if line == "":
                if data:
                    return event_id, json.loads("\n".join(data)) if "".join(data).strip() else None
                if event_id is not None:
                    return event_id, None  # priming event: an id and empty data
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "id":
                event_id = value
            elif name == "data":
                data.append(value)
        raise TimeoutError("no event in time")

    def quiet_for(self, seconds: float) -> bool:
        """True when no message event arrives for `seconds` (keep-alives arrive every second)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            line = next(self.lines)
            if line.startswith("data:") and line[5:].strip():
                return False
        return True


def session(env: StreamEnv, http: httpx.Client) -> dict[str, str]:
    session_id, _ = h.legacy_initialize(http, env.gateway.mcp_url)
    return {"Mcp-Session-Id": session_id, "MCP-Protocol-Version": h.LEGACY_VERSION, "Accept": "text/event-stream"}


def authorized(env: StreamEnv) -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(30.0, read=10.0), headers={"Authorization": f"Bearer {env.gateway.token}"})


def test_sdk_client_hears_list_changes(env: StreamEnv) -> None:
    heard: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, ServerNotification):
            heard.append(message.root.method if hasattr(message, "root") else message.method)
        elif hasattr(message, "method"):
            heard.append(message.method)

    async def body() -> None:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token, mode="legacy", message_handler=on_message):
            await anyio.sleep(0.5)  # the client opens its GET stream after initialized
            await anyio.to_thread.run_sync(change_catalog, env)
            with anyio.fail_after(10):
                while not all(heard.count(method) >= 2 for method in LIST_CHANGED):
                    await anyio.sleep(0.05)

    h.run(body)
    assert all(heard.count(method) == 2 for method in LIST_CHANGED), heard


def test_get_stream_starts_with_a_priming_id_and_announces_changes(env: StreamEnv) -> None:
    with authorized(env) as http:
        headers = session(env, http)
        with http.stream("GET", env.gateway.mcp_url, headers=headers) as resp:
            assert resp.status_code == 200, resp.read()
            assert resp.headers["content-type"].startswith("text/event-stream")
            reader = EventReader(resp)
            priming, message = reader.next_event()
            assert priming and message is None
            change_catalog(env)
            methods = [reader.next_event()[1]["method"] for _ in range(6)]
            assert methods == LIST_CHANGED + LIST_CHANGED


def test_reconnect_with_last_event_id_gets_exactly_what_was_missed(env: StreamEnv) -> None:
    with authorized(env) as http:
        headers = session(env, http)
        with http.stream("GET", env.gateway.mcp_url, headers=headers) as resp:
            priming, _ = EventReader(resp).next_event()
        # The stream is gone; the changes happen while the client is away.
        change_catalog(env)
        with http.stream("GET", env.gateway.mcp_url, headers={**headers, "Last-Event-ID": priming}) as resp:
            assert resp.status_code == 200
            reader = EventReader(resp)
            missed = [reader.next_event() for _ in range(6)]
            assert [m["method"] for _, m in missed] == LIST_CHANGED + LIST_CHANGED
            ids = [event_id for event_id, _ in missed]
            assert len(set(ids)) == 6 and all(ids), ids
            assert reader.quiet_for(1.5), "nothing beyond the missed events may be replayed"
        # Resuming from the third event replays the last three only.
        with http.stream("GET", env.gateway.mcp_url, headers={**headers, "Last-Event-ID": ids[2]}) as resp:
            reader = EventReader(resp)
            again = [reader.next_event() for _ in range(3)]
            assert [event_id for event_id, _ in again] == ids[3:]
            assert reader.quiet_for(1.5)


def test_a_broken_call_stream_resumes_on_get(env: StreamEnv) -> None:
    with authorized(env) as http:
        headers = session(env, http)
        call = h.request(
            "tools/call",
            {"name": env.tool("progress"), "arguments": {"steps": 4, "delay": 0.4}, "_meta": {"progressToken": "p"}},
            7,
        )
        post_headers = {**headers, "Accept": h.ACCEPT_BOTH, "Content-Type": "application/json"}
        with http.stream("POST", env.gateway.mcp_url, json=call, headers=post_headers) as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            first_id, first = EventReader(resp).next_event()
            assert first["method"] == "notifications/progress" and first["params"]["progress"] == 1
        # The client dropped the POST stream after the first event; the call goes on.
        with http.stream("GET", env.gateway.mcp_url, headers={**headers, "Last-Event-ID": first_id}) as resp:
            assert resp.status_code == 200
            reader = EventReader(resp)
            rest = [reader.next_event()[1] for _ in range(4)]
            assert [m["params"]["progress"] for m in rest[:3]] == [2, 3, 4]
            assert rest[3]["id"] == 7 and rest[3]["result"]["content"][0]["text"] == "done 4"
            # The call's stream ends with its response.
            assert [line for line in reader.lines if line and not line.startswith(":")] == []


def test_get_stream_refusals(env: StreamEnv) -> None:
    with authorized(env) as http:
        headers = session(env, http)
        no_session = {k: v for k, v in headers.items() if k != "Mcp-Session-Id"}
        assert http.get(env.gateway.mcp_url, headers=no_session).status_code == 400
        assert http.get(env.gateway.mcp_url, headers={**headers, "Mcp-Session-Id": "forged"}).status_code == 404
        assert http.get(env.gateway.mcp_url, headers={**headers, "Accept": "application/json"}).status_code == 406
        bad = http.get(env.gateway.mcp_url, headers={**headers, "Last-Event-ID": "not-ours"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == -32600
        stateless = http.get(env.gateway.mcp_url, headers={"MCP-Protocol-Version": h.MODERN_VERSION})
        assert stateless.status_code == 405


def notification_method(message: Any) -> str | None:
    inner = getattr(message, "root", message)
    return getattr(inner, "method", None)


def test_resource_updates_reach_subscribers_only(env: StreamEnv) -> None:
    uri = env.stack.upstream.uris["greeting"]
    updates: list[str] = []

    async def on_message(message: Any) -> None:
        inner = getattr(message, "root", message)
        if notification_method(message) == "notifications/resources/updated":
            updates.append(str(inner.params.uri))

    async def touch(client: Any) -> int:
        result = await client.call_tool(env.tool("touch"), {"uri": uri})
        return int(result.content[0].text)

    async def body() -> None:
        async with (
            h.connect(env.gateway.mcp_url, token=env.gateway.token, mode="legacy", message_handler=on_message) as watcher,
            h.connect(env.gateway.mcp_url, token=env.gateway.token, mode="legacy") as other,
        ):
            await anyio.sleep(0.3)  # both GET streams open
            assert await touch(other) == 0, "nobody subscribed yet"
            await watcher.subscribe_resource(uri)
            # The gateway holds one upstream subscription, whoever asks.
            assert await touch(other) == 1
            with anyio.fail_after(10):
                while updates != [uri]:
                    await anyio.sleep(0.05)
            await watcher.unsubscribe_resource(uri)
            with anyio.fail_after(10):
                while await touch(other) != 0:  # the upstream subscription is released in the background
                    await anyio.sleep(0.1)
            await anyio.sleep(0.5)
            assert updates == [uri], updates

    h.run(body)


def test_subscribing_to_an_unknown_resource_fails(env: StreamEnv) -> None:
    with authorized(env) as http:
        headers = {**session(env, http), "Accept": h.ACCEPT_BOTH}
        reply = h.rpc(http, env.gateway.mcp_url, h.request("resources/subscribe", {"uri": "data://nope"}, 5), headers=headers)
        assert reply.error_code(5) == -32002
        reply = h.rpc(http, env.gateway.mcp_url, h.request("resources/subscribe", {}, 6), headers=headers)
        assert reply.error_code(6) == -32602


def test_upstream_list_change_refreshes_the_catalog(env: StreamEnv) -> None:
    """It adds a tool to the module's upstream for good (no later test counts tools)."""
    added = f"grown_{time.monotonic_ns()}"
    heard: list[str] = []

    async def on_message(message: Any) -> None:
        method = notification_method(message)
        if method:
            heard.append(method)

    async def body() -> None:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token, mode="legacy", message_handler=on_message) as client:
            await anyio.sleep(0.3)
            result = await client.call_tool(env.tool("grow"), {"name": added})
            assert result.content[0].text == f"added {added}"
            with anyio.fail_after(10):
                while "notifications/tools/list_changed" not in heard:
                    await anyio.sleep(0.05)
            names = {tool.name for tool in await h.list_all(client, "tools")}
            assert env.tool(added) in names
            called = await client.call_tool(env.tool(added), {})
            assert called.content[0].text == added

    h.run(body)


def test_2026_listen_stream_carries_what_was_asked(env: StreamEnv) -> None:
    """subscriptions/listen (the 2026-07-28 replacement of the GET stream and resources/subscribe)."""
    from mcp.shared.subscriptions import ResourceUpdated, ToolsListChanged

    uri = env.stack.upstream.uris["farewell"]
    events: list[Any] = []

    async def body() -> None:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token, mode="modern") as client:
            async with client.listen(tools_list_changed=True, resource_subscriptions=[uri]) as subscription:

                async def trigger() -> None:
                    await anyio.to_thread.run_sync(change_catalog, env)
                    result = await client.call_tool(env.tool("touch"), {"uri": uri})
                    assert result.content[0].text == "1", "the gateway subscribed upstream for the listener"

                async with anyio.create_task_group() as group:
                    group.start_soon(trigger)
                    with anyio.fail_after(15):
                        async for event in subscription:
                            events.append(event)
                            if any(isinstance(e, ResourceUpdated) for e in events) and sum(
                                isinstance(e, ToolsListChanged) for e in events
                            ) >= 2:
                                break
            # Closing the stream released the upstream subscription.
            with anyio.fail_after(10):
                while (await client.call_tool(env.tool("touch"), {"uri": uri})).content[0].text != "0":
                    await anyio.sleep(0.1)

    h.run(body)
    assert ResourceUpdated(uri=uri) in events
    assert all(isinstance(e, (ToolsListChanged, ResourceUpdated)) for e in events), "only the kinds asked for"
