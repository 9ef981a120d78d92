"""Cluster mode with real processes: PostgreSQL and Redis on loopback, one upstream built on the
official SDK, three gateway nodes started at once on an empty database, and nginx round-robin in
front (no affinity).

Sessions move between nodes; catalog changes and token revocations reach every node within a
second; a cancellation or a client's answer that lands on another node finds the node running the
call; a killed leader is replaced within one lease; a client whose GET stream was on a killed node
resumes elsewhere with Last-Event-ID. The tests that kill or stop something run last.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.types import CreateMessageResult, TextContent

import cluster_servers
import mcp_helpers as h
import postgres_server
from test_relay import start_in_thread
from test_streams import LIST_CHANGED, EventReader

LEASE_TTL_MS = 3000


@dataclass
class Cluster:
    workdir: Path
    postgres: postgres_server.PostgresServer
    database: str
    redis: cluster_servers.RedisServer
    upstream: h.Upstream
    spare: h.Upstream
    shared_env: dict[str, str]
    nodes: list[h.Gateway] = field(default_factory=list)
    nginx: cluster_servers.Nginx | None = None
    slug: str = ""
    ids: dict[int, str] = field(default_factory=dict)  # node port -> node id

    @property
    def token(self) -> str:
        return self.nodes[0].token

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def admin_url(self, index: int) -> str:
        return f"http://{h.LOOPBACK}:{self.nodes[index].env['ADMIN_PORT']}"

    def view(self, index: int) -> dict[str, Any]:
        resp = httpx.get(f"{self.admin_url(index)}/cluster", headers=self.auth, timeout=5)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def live(self) -> list[int]:
        return [i for i, node in enumerate(self.nodes) if node.process.running()]

    def leader(self) -> tuple[int, int]:
        """(index of the leading node, its epoch), as a live node sees it."""
        view = self.view(self.live()[0])
        assert view["leader"] is not None, view
        ids = [self.node_id(i) for i in range(len(self.nodes))]
        return ids.index(view["leader"]["id"]), view["leader"]["epoch"]

    def node_id(self, index: int) -> str:
        """The id node `index` announced (as NODE_ADDRESS defaults to HOST:PORT)."""
        port = self.nodes[index].port
        if port not in self.ids:
            for node in self.view(self.live()[0])["nodes"]:
                self.ids[int(node["address"].rsplit(":", 1)[1])] = node["id"]
        return self.ids.get(port, "?")

    def start_node(self, index: int | None = None) -> h.Gateway:
        workdir = self.workdir / f"node-{uuid.uuid4().hex[:6]}"
        env = dict(self.shared_env, ADMIN_PORT=str(h.free_port()))
        node = h.start_gateway(workdir, extra_env=env, mint=False)
        node.token = h.mint_token(node)
        if index is None:
            self.nodes.append(node)
        else:
            self.nodes[index] = node
        return node

    def tool(self, original: str) -> str:
        return h.prefixed(self.slug, original)


def start_together(cluster: Cluster, count: int) -> None:
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(cluster.start_node) for _ in range(count)]
        for future in futures:
            future.result()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, postgres: postgres_server.PostgresServer) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("cluster")
    database = f"cluster_{uuid.uuid4().hex[:8]}"
    url = postgres.create_database(database)
    redis = h.or_fail(lambda: cluster_servers.start_redis(workdir / "redis"))
    upstream = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=workdir))
    spare = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=workdir, namespace="spare"))
    shared = {
        "DATABASE_URL": url,
        "REDIS_URL": redis.url,
        "JWT_SECRET_KEY": h.random_secret(),
        "AUTH_ENCRYPTION_SECRET": h.random_secret(),
        "MCPGATEWAY_ADMIN_API_ENABLED": "true",
        "SSE_KEEPALIVE_INTERVAL": "1",
        "HEALTH_CHECK_INTERVAL": "1",
        "HEALTH_CHECK_TIMEOUT": "2",
        "UNHEALTHY_THRESHOLD": "1",
        "LEADER_LEASE_TTL_MS": str(LEASE_TTL_MS),
        "RATE_LIMIT_ENABLED": "false",
    }
    cluster = Cluster(workdir, postgres, database, redis, upstream, spare, shared)
    try:
        h.or_fail(lambda: start_together(cluster, 3))
        for index in range(3):
            cluster.node_id(index)
        cluster.nginx = h.or_fail(lambda: cluster_servers.start_nginx(workdir / "nginx", [n.port for n in cluster.nodes]))
        with h.rest_client(cluster.nodes[0], cluster.token) as api:
            registered = h.register_gateway(api, "Cluster Upstream", upstream)
            h.wait_for_tools(api, registered["id"], len(h.UPSTREAM_TOOLS))
        cluster.slug = h.slugify("Cluster Upstream")
        yield cluster
    finally:
        if cluster.nginx:
            cluster.nginx.stop()
        for node in cluster.nodes:
            node.stop()
        spare.stop()
        upstream.stop()
        redis.stop()


def node_client(cluster: Cluster, index: int) -> httpx.Client:
    return httpx.Client(base_url=cluster.nodes[index].base_url, headers=cluster.auth, timeout=30.0)


def session_headers(session_id: str) -> dict[str, str]:
    return {"Mcp-Session-Id": session_id, "MCP-Protocol-Version": h.LEGACY_VERSION}


def initialize(http: httpx.Client, url: str, capabilities: dict[str, Any] | None = None) -> str:
    params = {"protocolVersion": h.LEGACY_VERSION, "capabilities": capabilities or {}, "clientInfo": h.CLIENT_INFO}
    reply = h.rpc(http, url, h.request("initialize", params, request_id=0))
    assert reply.status == 200, reply.raw
    session_id = reply.headers["mcp-session-id"]
    ack = h.rpc(http, url, h.notification("notifications/initialized"), headers=session_headers(session_id))
    assert ack.status == 202, ack.raw
    return session_id


def call_text(reply: h.RpcReply, request_id: Any) -> str:
    message = reply.response(request_id)
    assert "result" in message, message
    return message["result"]["content"][0]["text"]


# ------------------------------------------------------------------------------------------------
# A healthy cluster
# ------------------------------------------------------------------------------------------------


def test_three_nodes_started_together_migrated_once(cluster: Cluster) -> None:
    rows = cluster.postgres.psql("SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version",
                                 database=cluster.database)
    counts = [line.split("|") for line in rows.splitlines()]
    assert counts and all(count == "1" for _, count in counts), rows
    assert [int(version) for version, _ in counts] == list(range(1, len(counts) + 1)), rows


def test_cluster_view_shows_every_node_and_one_leader(cluster: Cluster) -> None:
    views = [cluster.view(i) for i in range(3)]
    for view in views:
        assert len(view["nodes"]) == 3, view
        assert {n["address"] for n in view["nodes"]} == {f"{h.LOOPBACK}:{n.port}" for n in cluster.nodes}
        for node in view["nodes"]:
            assert node["version"] and node["startedAt"].endswith("Z") and node["lastSeen"].endswith("Z"), node
    leaders = {(v["leader"]["id"], v["leader"]["epoch"]) for v in views}
    assert len(leaders) == 1, views
    leader_id, epoch = leaders.pop()
    assert leader_id in {n["id"] for n in views[0]["nodes"]} and epoch >= 1


def test_cluster_view_is_admin_only(cluster: Cluster) -> None:
    user = h.mint_token(cluster.nodes[0], "someone@example.com", admin=False)
    resp = httpx.get(f"{cluster.admin_url(0)}/cluster", headers={"Authorization": f"Bearer {user}"}, timeout=5)
    assert resp.status_code == 403
    assert httpx.get(f"{cluster.admin_url(0)}/cluster", timeout=5).status_code == 401


def node_metrics(cluster: Cluster, index: int) -> dict[str, float]:
    """`name{labels}` → value from one node's /metrics (parsed by prometheus_client)."""
    from prometheus_client.parser import text_string_to_metric_families

    with node_client(cluster, index) as http:
        resp = http.get("/metrics")
    assert resp.status_code == 200, resp.text
    return {
        sample.name + json.dumps(sample.labels, sort_keys=True): sample.value
        for family in text_string_to_metric_families(resp.text)
        for sample in family.samples
    }


def test_every_node_reports_the_cluster_in_its_metrics(cluster: Cluster) -> None:
    with node_client(cluster, 1) as http:
        assert http.get("/gateways").status_code == 200
    scraped = [node_metrics(cluster, i) for i in range(3)]
    leaders = [m["mcpgateway_leader{}"] for m in scraped]
    assert sorted(leaders) == [0, 0, 1], leaders
    epoch = scraped[leaders.index(1)]["mcpgateway_leader_epoch{}"]
    assert epoch == cluster.view(0)["leader"]["epoch"]
    for m in scraped:
        assert m["mcpgateway_cluster_nodes{}"] == 3
        # Heartbeats, the lease and the replay log all go through the Redis pool.
        assert m["mcpgateway_redis_command_duration_seconds_count{}"] > 0
        assert m["mcpgateway_redis_connections_open{}"] >= 1
        assert m["mcpgateway_db_pool_size{}"] > 1
        assert any(key.startswith("mcpgateway_db_operation_duration_seconds_count{\"backend\": \"postgres\"")
                   for key in m)


def test_a_session_continues_on_every_node(cluster: Cluster) -> None:
    with node_client(cluster, 0) as first:
        session_id = initialize(first, cluster.nodes[0].mcp_url)
    headers = session_headers(session_id)
    for index in (1, 2, 0, 2):
        with node_client(cluster, index) as http:
            call = h.request("tools/call", {"name": cluster.tool("echo"), "arguments": {"text": f"n{index}"}}, 7)
            reply = h.rpc(http, cluster.nodes[index].mcp_url, call, headers=headers)
            assert reply.status == 200, reply.raw
            assert call_text(reply, 7) == f"n{index}"
    # Ended on one node, unknown on every node within a second.
    with node_client(cluster, 2) as http:
        assert http.delete("/mcp", headers=headers).status_code == 204
    started = time.monotonic()
    for index in (0, 1):
        def ended() -> bool | None:
            with node_client(cluster, index) as http:
                ping = h.rpc(http, cluster.nodes[index].mcp_url, h.request("ping", None, 3), headers=headers)
                return ping.status == 404 or None
        h.wait_until(ended, timeout=1.0, interval=0.02, what=f"node {index} to refuse the ended session")
    assert time.monotonic() - started < 1.0


def test_the_official_client_through_round_robin(cluster: Cluster) -> None:
    assert cluster.nginx is not None
    url = f"{cluster.nginx.base_url}/mcp"
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async def body() -> None:
        async with h.connect(url, token=cluster.token, mode="legacy") as client:
            tools = await h.list_all(client, "tools")
            assert cluster.tool("echo") in {t.name for t in tools}
            for index in range(6):
                result = await client.call_tool(cluster.tool("echo"), {"text": f"rr{index}"})
                assert isinstance(result.content[0], TextContent) and result.content[0].text == f"rr{index}"
            result = await client.call_tool(
                cluster.tool("progress"), {"steps": 3, "delay": 0.05}, progress_callback=on_progress
            )
            assert not result.is_error, result

    h.run(body)
    assert progress == [1, 2, 3], progress


def test_the_official_legacy_sse_client_through_round_robin(cluster: Cluster) -> None:
    """`GET /sse` holds the session's stream on one node; every `POST /message` (requests, and the
    answer to a sampling request) lands on whichever node nginx picks, with no affinity."""
    assert cluster.nginx is not None
    url = f"{cluster.nginx.base_url}/sse"

    async def sample(context: Any, params: Any) -> CreateMessageResult:
        prompt = params.messages[0].content.text
        return CreateMessageResult(role="assistant", content=TextContent(type="text", text=prompt[::-1]), model="m")

    async def body() -> None:
        async with h.connect(url, token=cluster.token, mode="legacy", transport="sse", sampling_callback=sample) as client:
            tools = await h.list_all(client, "tools")
            assert cluster.tool("echo") in {t.name for t in tools}
            for index in range(6):
                result = await client.call_tool(cluster.tool("echo"), {"text": f"sse{index}"})
                assert isinstance(result.content[0], TextContent) and result.content[0].text == f"sse{index}"
            for index in range(3):
                result = await client.call_tool(cluster.tool("ask_sampling"), {"prompt": f"abc{index}"})
                assert isinstance(result.content[0], TextContent), result
                assert result.content[0].text == f"sampled: {index}cba", result

    h.run(body)


def test_a_legacy_sse_post_is_404_on_every_node_when_no_node_holds_the_session(cluster: Cluster) -> None:
    assert cluster.nginx is not None
    with httpx.Client(base_url=cluster.nginx.base_url, headers=cluster.auth, timeout=30.0) as http:
        with http.stream("GET", "/sse") as stream:
            # Kept referenced: a line iterator that is collected closes the stream.
            lines = stream.iter_lines()
            endpoint = next(line for line in lines if line.startswith("data:"))[5:].strip()
            for index in range(len(cluster.nodes)):
                with node_client(cluster, index) as node:
                    unknown = node.post("/message?session_id=0123456789abcdef", json=h.request("ping", None, 2))
                    assert unknown.status_code == 404, unknown.text
                    unreadable = node.post(endpoint, content=b"{not json", headers={"Content-Type": "application/json"})
                    assert unreadable.status_code == 400, unreadable.text
                    accepted = node.post(endpoint, json=h.request("ping", None, 3))
                    assert accepted.status_code == 202, accepted.text
            # Every ping, whichever node it was posted to, is answered on the one stream.
            answered: list[Any] = []
            for line in lines:
                message = json.loads(line[5:]) if line.startswith("data:") else None
                if isinstance(message, dict) and message.get("id") == 3:
                    answered.append(message)
                if len(answered) == len(cluster.nodes):
                    break
            assert answered == [{"jsonrpc": "2.0", "id": 3, "result": {}}] * len(cluster.nodes), answered
        # The stream is closed: no node holds the session any more.
        for index in range(len(cluster.nodes)):
            with node_client(cluster, index) as node:
                gone = h.wait_until(
                    lambda: node.post(endpoint, json=h.request("ping", None, 4)).status_code == 404 or None,
                    timeout=5,
                    what=f"node {index} to forget the closed session",
                )
                assert gone


def test_a_rest_change_reaches_every_node_within_a_second(cluster: Cluster) -> None:
    name = f"Spare {uuid.uuid4().hex[:6]}"
    with node_client(cluster, 0) as api:
        created = h.register_gateway(api, name, cluster.spare)
    started = time.monotonic()
    seen: dict[int, float] = {}
    while len(seen) < 2 and time.monotonic() - started < 3:
        for index in (1, 2):
            if index in seen:
                continue
            with node_client(cluster, index) as api:
                if any(t["gatewayId"] == created["id"] for t in h.ok_json(api.get("/tools"), 200)):
                    seen[index] = time.monotonic() - started
        time.sleep(0.02)
    assert sorted(seen) == [1, 2], f"not seen on every node within 3 s: {seen}"
    assert max(seen.values()) < 1.0, seen
    with node_client(cluster, 1) as api:
        assert api.delete(f"/gateways/{created['id']}").status_code in (200, 204)
    def gone() -> bool | None:
        with node_client(cluster, 2) as api:
            return not any(t["gatewayId"] == created["id"] for t in h.ok_json(api.get("/tools"), 200)) or None
    h.wait_until(gone, timeout=1.0, interval=0.02, what="the deletion on node 2")


def test_a_revoked_token_is_refused_on_every_node_within_a_second(cluster: Cluster) -> None:
    with node_client(cluster, 0) as api:
        made = h.ok_json(api.post("/tokens", json={"name": f"agent-{uuid.uuid4().hex[:6]}", "expires_in_days": 1}), 201)
        token, token_id = made["access_token"], made["token"]["id"]
    for index in (1, 2):
        resp = httpx.get(f"{cluster.nodes[index].base_url}/tools", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200
    with node_client(cluster, 1) as api:
        assert api.delete(f"/tokens/{token_id}").status_code == 204
    started = time.monotonic()
    for index in (0, 2):
        def refused() -> bool | None:
            resp = httpx.get(f"{cluster.nodes[index].base_url}/tools", headers={"Authorization": f"Bearer {token}"})
            return resp.status_code == 401 or None
        h.wait_until(refused, timeout=1.0, interval=0.02, what=f"node {index} to refuse the revoked token")
    assert time.monotonic() - started < 1.0


def slow_status(cluster: Cluster, tag: str) -> dict[str, bool]:
    with node_client(cluster, 0) as http:
        reply = h.rpc(http, cluster.nodes[0].mcp_url, h.modern_request(
            "tools/call", {"name": cluster.tool("slow_status"), "arguments": {"tag": tag}})[0],
            headers=h.modern_request("tools/call", {"name": cluster.tool("slow_status")})[1])
        return json.loads(call_text(reply, 1))


def test_a_cancel_sent_to_another_node_stops_the_call(cluster: Cluster) -> None:
    tag = uuid.uuid4().hex
    with node_client(cluster, 0) as http:
        session_id = initialize(http, cluster.nodes[0].mcp_url)
        headers = session_headers(session_id)
        call = h.request("tools/call", {"name": cluster.tool("slow"), "arguments": {"seconds": 30, "tag": tag}}, 41)
        thread, outcome = start_in_thread(lambda: h.rpc(http, cluster.nodes[0].mcp_url, call, headers=headers))
        h.wait_until(lambda: slow_status(cluster, tag)["started"] or None, timeout=10, what="the slow call to start")
        started = time.monotonic()
        with node_client(cluster, 1) as other:
            cancel = h.notification("notifications/cancelled", {"requestId": 41, "reason": "test"})
            ack = h.rpc(other, cluster.nodes[1].mcp_url, cancel, headers=headers)
        assert ack.status == 202, ack.raw
        thread.join(timeout=10)
        assert not thread.is_alive(), "the call cancelled on another node did not end"
        assert time.monotonic() - started < 5
        assert "error" not in outcome, outcome
        assert outcome["value"].error_code(41) == -32800
    h.wait_until(lambda: slow_status(cluster, tag)["cancelled"] or None, timeout=10, what="the upstream to see it")


def test_a_sampling_answer_sent_to_another_node_reaches_the_call(cluster: Cluster) -> None:
    with node_client(cluster, 0) as http:
        session_id = initialize(http, cluster.nodes[0].mcp_url, {"sampling": {}})
        headers = {**session_headers(session_id), "Accept": h.ACCEPT_BOTH, "Content-Type": "application/json"}
        call = h.request("tools/call", {"name": cluster.tool("ask_sampling"), "arguments": {"prompt": "abc"}}, 51)
        with http.stream("POST", cluster.nodes[0].mcp_url, content=json.dumps(call), headers=headers) as resp:
            assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
            data = h.iter_sse_data(resp.iter_lines())
            asked = next(m for m in map(json.loads, filter(str.strip, data)) if m.get("method") == "sampling/createMessage")
            answer = {"jsonrpc": "2.0", "id": asked["id"], "result": {
                "role": "assistant", "content": {"type": "text", "text": "xyz"}, "model": "m"}}
            with node_client(cluster, 2) as other:
                ack = h.rpc(other, cluster.nodes[2].mcp_url, answer, headers=session_headers(session_id))
            assert ack.status == 202, ack.raw
            final = next(m for m in map(json.loads, filter(str.strip, data)) if m.get("id") == 51)
    assert final["result"]["content"][0]["text"] == "sampled: xyz", final


def modern_call(http: httpx.Client, url: str, tool: str, arguments: dict[str, Any], request_id: int, **extra: Any) -> h.RpcReply:
    """A 2026-07-28 tools/call from a client that can be asked for sampling."""
    payload, headers = h.modern_request("tools/call", {"name": tool, "arguments": arguments, **extra}, request_id)
    payload["params"]["_meta"][h.CLIENT_CAPABILITIES_META_KEY] = {"sampling": {}}
    return h.rpc(http, url, payload, headers=headers)


def sampled(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": {"type": "text", "text": text}, "model": "m"}


def test_an_input_required_retry_resumes_the_call_on_another_node(cluster: Cluster) -> None:
    """The call runs (and waits for the client's input) on node 0; the retry lands on node 1."""
    tool = cluster.tool("ask_sampling")
    with node_client(cluster, 0) as first, node_client(cluster, 1) as second:
        asked = modern_call(first, cluster.nodes[0].mcp_url, tool, {"prompt": "abc"}, 61).response(61)["result"]
        assert asked["resultType"] == "input_required", asked
        [key] = asked["inputRequests"]
        retry = modern_call(
            second, cluster.nodes[1].mcp_url, tool, {"prompt": "abc"}, 62,
            inputResponses={key: sampled("from node 1")}, requestState=asked["requestState"],
        )
        assert call_text(retry, 62) == "sampled: from node 1"


def test_an_upstreams_own_input_required_resumes_from_any_node(cluster: Cluster, tmp_path: Path) -> None:
    """An upstream that speaks only 2026-07-28 asks itself: nothing waits in the gateway, so the
    retry may land on any node; each node opens the gateway's seal around the upstream's state."""
    modern = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=tmp_path, refuse_initialize=True, namespace="mo"))
    try:
        with h.rest_client(cluster.nodes[0], cluster.token) as api:
            registered = h.register_gateway(api, "Cluster Modern", modern)
            h.wait_for_tools(api, registered["id"], len(h.UPSTREAM_TOOLS))
        tool = h.prefixed(h.slugify("Cluster Modern"), "resolve_sampling")
        with node_client(cluster, 1) as first, node_client(cluster, 2) as second:
            h.wait_until(
                lambda: "result" in modern_call(first, cluster.nodes[1].mcp_url, tool, {"prompt": "q"}, 80).response(80) or None,
                timeout=5, what="the new upstream on node 1",
            )
            asked = modern_call(first, cluster.nodes[1].mcp_url, tool, {"prompt": "q"}, 81).response(81)["result"]
            assert asked["resultType"] == "input_required", asked
            [key] = asked["inputRequests"]
            retry = modern_call(
                second, cluster.nodes[2].mcp_url, tool, {"prompt": "q"}, 82,
                inputResponses={key: sampled("Q")}, requestState=asked["requestState"],
            )
            assert call_text(retry, 82) == "resolved: Q"
        with h.rest_client(cluster.nodes[0], cluster.token) as api:
            h.ok_json(api.delete(f"/gateways/{registered['id']}"), 200, 204)
    finally:
        modern.stop()


def test_the_official_client_samples_through_round_robin_in_its_default_mode(cluster: Cluster) -> None:
    """The SDK's default mode (2026-07-28): every call's retry lands wherever nginx sends it."""
    assert cluster.nginx is not None
    url = f"{cluster.nginx.base_url}/mcp"

    async def sample(context: Any, params: Any) -> CreateMessageResult:
        prompt = params.messages[0].content.text
        return CreateMessageResult(role="assistant", content=TextContent(type="text", text=prompt.upper()), model="m")

    async def body() -> None:
        async with h.connect(url, token=cluster.token, mode="modern", sampling_callback=sample) as client:
            for index in range(4):
                result = await client.call_tool(cluster.tool("ask_sampling"), {"prompt": f"rr{index}"})
                assert not result.is_error, result
                assert isinstance(result.content[0], TextContent) and result.content[0].text == f"sampled: RR{index}"

    h.run(body)


def test_the_leader_marks_a_dead_upstream_and_its_return(cluster: Cluster, tmp_path: Path) -> None:
    extra = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=tmp_path, namespace="health"))
    port = extra.port
    with node_client(cluster, 1) as api:
        created = h.register_gateway(api, f"Health {uuid.uuid4().hex[:6]}", extra)
    extra.stop()

    def reachable(expected: bool) -> bool | None:
        with node_client(cluster, 2) as api:
            return h.ok_json(api.get(f"/gateways/{created['id']}"), 200)["reachable"] is expected or None

    try:
        h.wait_until(lambda: reachable(False), timeout=10, what="the leader to mark the upstream unreachable")
        extra = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=tmp_path, namespace="health", port=port))
        h.wait_until(lambda: reachable(True), timeout=10, what="the leader to see the upstream again")
    finally:
        extra.stop()
        with node_client(cluster, 0) as api:
            api.delete(f"/gateways/{created['id']}")


# ------------------------------------------------------------------------------------------------
# Losing things (these run last: they kill nodes and restart them)
# ------------------------------------------------------------------------------------------------


def change_catalog(cluster: Cluster, via: int) -> None:
    with node_client(cluster, via) as api:
        created = h.register_gateway(api, f"Spare {uuid.uuid4().hex[:6]}", cluster.spare)
        assert api.delete(f"/gateways/{created['id']}").status_code in (200, 204)


def test_a_retry_whose_node_was_killed_fails_clearly(cluster: Cluster) -> None:
    leader, _ = cluster.leader()
    holder = next(i for i in range(3) if i != leader)
    tool = cluster.tool("ask_sampling")
    with node_client(cluster, holder) as http:
        asked = modern_call(http, cluster.nodes[holder].mcp_url, tool, {"prompt": "gone"}, 71).response(71)["result"]
    assert asked["resultType"] == "input_required", asked
    os.kill(cluster.nodes[holder].process.popen.pid, signal.SIGKILL)
    cluster.nodes[holder].process.popen.wait(timeout=10)
    try:
        with node_client(cluster, leader) as http:
            started = time.monotonic()
            retry = modern_call(
                http, cluster.nodes[leader].mcp_url, tool, {"prompt": "gone"}, 72,
                inputResponses={key: sampled("late") for key in asked["inputRequests"]},
                requestState=asked["requestState"],
            )
            error = retry.response(72)["error"]
            assert error["code"] == -32602 and error["data"]["reason"] == "call_ended", error
            assert "gone" in error["message"], error
            assert time.monotonic() - started < 5
    finally:
        cluster.start_node(holder)


def test_a_get_stream_resumes_on_another_node_after_its_node_is_killed(cluster: Cluster) -> None:
    leader, _ = cluster.leader()
    holder = next(i for i in range(3) if i != leader)
    other = next(i for i in range(3) if i not in (leader, holder))
    holder_id = cluster.node_id(holder)
    timeout = httpx.Timeout(30.0, read=10.0)
    with httpx.Client(timeout=timeout, headers=cluster.auth) as http:
        session_id = initialize(http, cluster.nodes[holder].mcp_url)
        headers = {**session_headers(session_id), "Accept": "text/event-stream"}
        with http.stream("GET", cluster.nodes[holder].mcp_url, headers=headers) as resp:
            reader = EventReader(resp)
            reader.next_event()  # priming
            change_catalog(cluster, via=other)
            heard = [reader.next_event() for _ in range(6)]
            assert [m["method"] for _, m in heard] == LIST_CHANGED + LIST_CHANGED
            last_id = heard[-1][0]
            os.kill(cluster.nodes[holder].process.popen.pid, signal.SIGKILL)
        cluster.nodes[holder].process.popen.wait(timeout=10)
        h.wait_until(
            lambda: holder_id not in {n["id"] for n in cluster.view(leader)["nodes"]} or None,
            timeout=10, what="the killed node to leave the cluster view",
        )
        # Published while the client has no stream: kept for it.
        change_catalog(cluster, via=other)
        with http.stream("GET", cluster.nodes[other].mcp_url, headers={**headers, "Last-Event-ID": last_id}) as resp:
            assert resp.status_code == 200
            reader = EventReader(resp)
            missed = [reader.next_event() for _ in range(6)]
            assert [m["method"] for _, m in missed] == LIST_CHANGED + LIST_CHANGED
            assert reader.quiet_for(1.5)
    cluster.start_node(holder)


def test_every_key_the_gateway_writes_in_redis_expires(cluster: Cluster) -> None:
    """After sessions, streams, replayed events, an ended session, leadership and heartbeats, no
    key of the gateway's lacks a TTL: Redis memory never depends on allkeys-lru eviction."""
    with httpx.Client(timeout=httpx.Timeout(30.0, read=10.0), headers=cluster.auth) as http:
        session_id = initialize(http, cluster.nodes[0].mcp_url)
        headers = {**session_headers(session_id), "Accept": "text/event-stream"}
        with http.stream("GET", cluster.nodes[1].mcp_url, headers=headers) as resp:
            reader = EventReader(resp)
            reader.next_event()  # priming
            change_catalog(cluster, via=0)
            assert [m["method"] for _, m in (reader.next_event() for _ in range(3))] == LIST_CHANGED
        # Another session, ended (the first keeps its replay log: ending a session drops it).
        ended = initialize(http, cluster.nodes[2].mcp_url)
        assert http.delete(cluster.nodes[2].mcp_url, headers=session_headers(ended)).status_code == 204
    def keys() -> list[str]:
        return [k for k in cluster.redis.command("--scan", "--pattern", "mcpgw:*").splitlines() if k]

    # The replay log is written in the background.
    h.wait_until(lambda: {"leader", "nodes", "events", "sessions"} <= {k.split(":")[1] for k in keys()} or None,
                 timeout=10, what=f"the gateway's kinds of keys (now {sorted({k.split(':')[1] for k in keys()})})")
    keys = keys()
    without_ttl = [key for key in keys if cluster.redis.command("PTTL", key) == "-1"]  # -2: gone meanwhile
    assert not without_ttl, without_ttl


def test_a_killed_leader_is_replaced_within_one_lease_under_load(cluster: Cluster) -> None:
    assert cluster.nginx is not None
    leader, epoch = cluster.leader()
    leader_id = cluster.node_id(leader)
    url = f"{cluster.nginx.base_url}/mcp"
    stop = threading.Event()
    results = {"ok": 0, "failed": 0}

    def load() -> None:
        with httpx.Client(timeout=10.0, headers=cluster.auth) as http:
            payload, headers = h.modern_request("tools/call", {"name": cluster.tool("echo"), "arguments": {"text": "x"}})
            while not stop.is_set():
                try:
                    reply = h.rpc(http, url, payload, headers=headers)
                    ok = reply.status == 200 and call_text(reply, 1) == "x"
                except (httpx.HTTPError, AssertionError):
                    ok = False
                results["ok" if ok else "failed"] += 1

    workers = [threading.Thread(target=load, daemon=True) for _ in range(4)]
    for worker in workers:
        worker.start()
    time.sleep(1.0)
    killed_at = time.monotonic()
    os.kill(cluster.nodes[leader].process.popen.pid, signal.SIGKILL)
    cluster.nodes[leader].process.popen.wait(timeout=10)
    survivor = next(i for i in range(3) if i != leader)

    def new_leader() -> tuple[str, int] | None:
        view = cluster.view(survivor)
        current = view["leader"]
        if current and current["epoch"] > epoch:
            return current["id"], current["epoch"]
        return None

    new_id, new_epoch = h.wait_until(new_leader, timeout=10, interval=0.05, what="a new leader")
    took = time.monotonic() - killed_at
    time.sleep(1.0)
    stop.set()
    for worker in workers:
        worker.join(timeout=15)
    assert new_epoch > epoch and new_id != leader_id
    assert took < (LEASE_TTL_MS / 1000) + 2, f"failover took {took:.2f}s"
    assert results["ok"] > 50, results
    # Only calls in flight on the killed node may fail (nginx retries refused connections).
    assert results["failed"] <= 8, results
    cluster.start_node(leader)


def test_redis_stopped_and_restarted(cluster: Cluster) -> None:
    with node_client(cluster, 0) as http:
        session_id = initialize(http, cluster.nodes[0].mcp_url)
    headers = session_headers(session_id)
    cluster.redis.stop()
    try:
        def degraded() -> dict[str, Any] | None:
            resp = httpx.get(f"{cluster.nodes[1].base_url}/ready", timeout=5)
            body = resp.json()
            return body if body.get("status") == "degraded" else None

        body = h.wait_until(degraded, timeout=10, what="/ready to report degraded")
        assert "Redis" in json.dumps(body), body
        # What needs no cross-node state still works: the session, a call, a REST read.
        with node_client(cluster, 1) as http:
            call = h.request("tools/call", {"name": cluster.tool("echo"), "arguments": {"text": "alone"}}, 9)
            reply = h.rpc(http, cluster.nodes[1].mcp_url, call, headers=headers)
            assert reply.status == 200 and call_text(reply, 9) == "alone", reply.raw
            assert http.get("/tools").status_code == 200
        # Leader work pauses: no node believes it leads once its lease ran out.
        time.sleep(LEASE_TTL_MS / 1000 + 0.5)
        resp = httpx.get(f"{cluster.admin_url(0)}/cluster", headers=cluster.auth, timeout=5)
        assert resp.status_code == 503 and resp.headers["content-type"].startswith("application/problem+json")
    finally:
        cluster.redis.start()
    h.wait_until(
        lambda: all(httpx.get(f"{n.base_url}/ready", timeout=5).json().get("status") == "ready" for n in cluster.nodes) or None,
        timeout=15, what="every node to be ready again",
    )
    view = h.wait_until(lambda: (v := cluster.view(0))["leader"] and len(v["nodes"]) == 3 and v or None,
                        timeout=10, what="a leader and three nodes again")
    assert view["leader"]["epoch"] >= 1
    # Announcements flow again.
    test_a_rest_change_reaches_every_node_within_a_second(cluster)


def test_sigterm_deregisters_releases_the_lease_and_asks_streams_to_reconnect(cluster: Cluster) -> None:
    leader, epoch = cluster.leader()
    with httpx.Client(timeout=httpx.Timeout(30.0, read=10.0), headers=cluster.auth) as http:
        session_id = initialize(http, cluster.nodes[leader].mcp_url)
        headers = {**session_headers(session_id), "Accept": "text/event-stream"}
        with http.stream("GET", cluster.nodes[leader].mcp_url, headers=headers) as resp:
            lines = resp.iter_lines()
            assert next(lines).startswith("id:")
            stopped_at = time.monotonic()
            cluster.nodes[leader].process.popen.send_signal(signal.SIGTERM)
            rest = list(lines)
    assert any(line.startswith("retry:") for line in rest), rest
    cluster.nodes[leader].process.popen.wait(timeout=30)
    # Redis closes last: no service of the stopping node sent a command after it closed.
    log = cluster.nodes[leader].process.log(limit=1_000_000)
    assert "left the cluster" in log
    assert "Redis command sent after the Redis client closed" not in log, log[-4000:]
    survivor = next(i for i in range(3) if i != leader)
    view = h.wait_until(
        lambda: (v := cluster.view(survivor))["leader"] and v["leader"]["epoch"] > epoch and v or None,
        timeout=5, interval=0.05, what="a new leader after a graceful stop",
    )
    assert time.monotonic() - stopped_at < LEASE_TTL_MS / 1000, "the lease was not released on shutdown"
    assert len(view["nodes"]) == 2, view
    cluster.start_node(leader)


def test_rate_limits_hold_across_nodes(tmp_path: Path, postgres: postgres_server.PostgresServer) -> None:
    redis = h.or_fail(lambda: cluster_servers.start_redis(tmp_path / "redis"))
    env = {
        "DATABASE_URL": postgres.create_database(),
        "REDIS_URL": redis.url,
        "JWT_SECRET_KEY": h.random_secret(),
        "AUTH_ENCRYPTION_SECRET": h.random_secret(),
        "RATE_LIMIT_READ_PER_MINUTE": "10",
    }
    nodes: list[h.Gateway] = []
    try:
        for index in range(2):
            nodes.append(h.or_fail(lambda: h.start_gateway(tmp_path / f"n{index}", extra_env=env)))
        auth = {"Authorization": f"Bearer {nodes[0].token}"}
        # Limits count in aligned one-minute windows: keep the twelve requests inside one.
        while time.time() % 60 > 50:
            time.sleep(0.5)
        statuses = [httpx.get(f"{nodes[i % 2].base_url}/tools", headers=auth).status_code for i in range(12)]
        assert statuses[:10] == [200] * 10, statuses
        assert statuses[10:] == [429, 429], statuses
    finally:
        for node in nodes:
            node.stop()
        redis.stop()
