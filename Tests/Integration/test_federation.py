"""Peer federation between gateways on SQLite, each a real `mcpgateway serve` with its own
upstream (the official SDK), all on loopback.

Two gateways that register each other (`POST /gateways` with the other's `/mcp` and a token it
accepts) recognise each other as peers, settle within seconds on a stable catalog (each shows the
other's own items once, never its own coming back), call each other's tools with progress and
elicitation across two hops, see a change on the other's upstream, and survive the other going
away and coming back. Chains and cycles of three settle the same way; the hop count refuses a
call that crossed more gateways than FEDERATION_MAX_HOPS allows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from mcp.types import CreateMessageResult, ElicitResult, TextContent

import mcp_helpers as h

ORIGIN_KEY = "io.github.mcp-gateway-swift/origin"
CAPABILITY_KEY = "io.github.mcp-gateway-swift/federation"
# Quick health checks and syncs, so that the tests see them within seconds.
FAST = {
    "HEALTH_CHECK_INTERVAL": "1",
    "HEALTH_CHECK_TIMEOUT": "2",
    "UNHEALTHY_THRESHOLD": "1",
    "FEDERATION_SYNC_INTERVAL": "2",
}


@dataclass
class Member:
    """One gateway of a federation test, with its own upstream registered as `local`."""

    name: str
    gateway: h.Gateway
    upstream: h.Upstream
    local_id: str

    @property
    def mcp_url(self) -> str:
        return self.gateway.mcp_url

    def api(self) -> httpx.Client:
        return h.rest_client(self.gateway)

    def gateway_id(self) -> str:
        """The federation id this gateway advertises to MCP clients."""
        with httpx.Client(timeout=10) as http:
            auth = {"Authorization": f"Bearer {self.gateway.token}"}
            _, result = h.legacy_initialize(http, self.mcp_url, headers=auth)
        assert result["serverInfo"]["title"] == f"Gateway {self.name.upper()}", result["serverInfo"]
        return result["capabilities"]["experimental"][CAPABILITY_KEY]["gatewayId"]

    def tool_names(self) -> list[str]:
        with self.api() as api:
            return sorted(tool["name"] for tool in h.list_rest(api, "tools"))

    def register_peer(self, name: str, other: Member) -> dict[str, Any]:
        with self.api() as api:
            body = {"name": name, "url": other.mcp_url, "auth_type": "bearer", "auth_token": other.gateway.token}
            return h.ok_json(api.post("/gateways", json=body), 200, 201)


def start_member(workdir: Path, name: str, extra_env: dict[str, str] | None = None) -> Member:
    upstream = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=workdir, namespace=f"fed-{name}"))
    try:
        env = dict(FAST, GATEWAY_NAME=f"Gateway {name.upper()}", **(extra_env or {}))
        gateway = h.or_fail(lambda: h.start_gateway(workdir / name, extra_env=env))
    except BaseException:
        upstream.stop()
        raise
    with h.rest_client(gateway) as api:
        local = h.register_gateway(api, f"{name}-local", upstream)
        h.wait_for_tools(api, local["id"], len(h.UPSTREAM_TOOLS))
    return Member(name=name, gateway=gateway, upstream=upstream, local_id=local["id"])


@pytest.fixture
def members(tmp_path: Path) -> Iterator[dict[str, Member]]:
    started: dict[str, Member] = {}
    try:
        yield started
    finally:
        for member in started.values():
            member.gateway.stop()
            member.upstream.stop()


def add(members: dict[str, Member], workdir: Path, name: str, extra_env: dict[str, str] | None = None) -> Member:
    members[name] = start_member(workdir, name, extra_env)
    return members[name]


def local_tools(slug: str) -> list[str]:
    return sorted(h.prefixed(slug, tool) for tool in h.UPSTREAM_TOOLS)


def settled(member: Member, expected: list[str], *, timeout: float = 20.0) -> float:
    """Waits until `member` lists exactly `expected`; returns the seconds it took."""
    started = time.monotonic()
    h.wait_until(lambda: member.tool_names() == sorted(expected) or None, timeout=timeout, what=f"{member.name}'s catalog")
    return time.monotonic() - started


def text_of(result: Any) -> str:
    assert not result.is_error, result
    return "".join(part.text for part in result.content if isinstance(part, TextContent))


def call_text(member: Member, tool: str, arguments: dict[str, Any]) -> str:
    async def body() -> str:
        async with h.connect(member.mcp_url, token=member.gateway.token, mode="legacy") as client:
            return text_of(await client.call_tool(tool, arguments))

    return h.run(body)


def rpc_call(member: Member, tool: str, arguments: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    with member.api() as api:
        body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
        resp = api.post("/rpc", json=body, headers=headers or {})
        assert resp.status_code == 200, resp.text
        return resp.json()


@pytest.mark.timeout(120)
def test_two_gateways_that_register_each_other_settle_without_a_loop(members: dict[str, Member], tmp_path: Path) -> None:
    a = add(members, tmp_path, "a")
    b = add(members, tmp_path, "b")
    a_id, b_id = a.gateway_id(), b.gateway_id()
    assert a_id != b_id
    started = time.monotonic()
    peer_b = a.register_peer("peer-b", b)
    peer_a = b.register_peer("peer-a", a)
    a_expected = local_tools("a-local") + [h.prefixed("peer-b", t) for t in local_tools("b-local")]
    b_expected = local_tools("b-local") + [h.prefixed("peer-a", t) for t in local_tools("a-local")]
    settled(a, a_expected)
    settled(b, b_expected)
    settle_time = time.monotonic() - started
    print(f"mutual registration settled in {settle_time:.2f}s")
    # Several sync rounds later (FEDERATION_SYNC_INTERVAL=2), still the same: nothing comes back.
    time.sleep(5)
    assert a.tool_names() == sorted(a_expected)
    assert b.tool_names() == sorted(b_expected)

    with a.api() as api:
        listed = {g["name"]: g for g in h.list_rest(api, "gateways")}
    assert listed["peer-b"]["peer"] is True and listed["peer-b"]["peerGatewayId"] == b_id
    assert listed["a-local"]["peer"] is False and listed["a-local"]["peerGatewayId"] is None
    assert peer_b["peer"] is True and peer_a["peerGatewayId"] == a_id

    # The origin path: a's own tool [a]; b's tool as a lists it [b, a].
    async def paths() -> dict[str, list[str]]:
        async with h.connect(a.mcp_url, token=a.gateway.token, mode="legacy") as client:
            tools = await h.list_all(client, "tools")
            return {tool.name: (tool.meta or {}).get(ORIGIN_KEY) for tool in tools}

    origin = h.run(paths)
    assert origin[h.prefixed("a-local", "echo")] == [a_id]
    assert origin[h.prefixed("peer-b", h.prefixed("b-local", "echo"))] == [b_id, a_id]


@pytest.mark.timeout(120)
def test_calls_progress_and_elicitation_cross_a_peer_both_ways(members: dict[str, Member], tmp_path: Path) -> None:
    a = add(members, tmp_path, "a")
    b = add(members, tmp_path, "b")
    a.register_peer("peer-b", b)
    b.register_peer("peer-a", a)
    remote_echo = h.prefixed("peer-b", h.prefixed("b-local", "echo"))
    h.wait_until(lambda: remote_echo in a.tool_names() or None, timeout=20, what="b's tools on a")
    assert call_text(a, remote_echo, {"text": "over two hops"}) == "over two hops"
    remote_add = h.prefixed("peer-a", h.prefixed("a-local", "add"))
    h.wait_until(lambda: remote_add in b.tool_names() or None, timeout=20, what="a's tools on b")
    reply = rpc_call(b, remote_add, {"a": 2, "b": 40})
    assert reply["result"]["structuredContent"] == {"sum": 42}, reply

    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async def elicit(context: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="accept", content={"name": "Grace"})

    async def body() -> tuple[str, str]:
        async with h.connect(a.mcp_url, token=a.gateway.token, mode="legacy", elicitation_callback=elicit) as client:
            stepped = await client.call_tool(
                h.prefixed("peer-b", h.prefixed("b-local", "progress")), {"steps": 3}, progress_callback=on_progress
            )
            greeted = await client.call_tool(h.prefixed("peer-b", h.prefixed("b-local", "ask_name")), {})
            return text_of(stepped), text_of(greeted)

    stepped, greeted = h.run(body)
    assert greeted == "hello Grace"
    assert len(progress) == 3, f"progress across two hops: {progress} ({stepped})"


@pytest.mark.timeout(120)
def test_a_change_on_a_peers_upstream_reaches_the_other_gateway(members: dict[str, Member], tmp_path: Path) -> None:
    # A long interval: only the list_changed relay can bring the change quickly.
    a = add(members, tmp_path, "a", {"FEDERATION_SYNC_INTERVAL": "600"})
    b = add(members, tmp_path, "b", {"FEDERATION_SYNC_INTERVAL": "600"})
    b.register_peer("peer-a", a)
    h.wait_until(lambda: len(b.tool_names()) == 2 * len(h.UPSTREAM_TOOLS) or None, timeout=20, what="a's tools on b")
    started = time.monotonic()
    assert "fresh" in call_text(a, h.prefixed("a-local", "grow"), {"name": "fresh"})
    fresh = h.prefixed("peer-a", h.prefixed("a-local", "fresh"))
    h.wait_until(lambda: fresh in b.tool_names() or None, timeout=15, what="the new tool on the peer")
    print(f"a change crossed the peer in {time.monotonic() - started:.2f}s")
    assert call_text(b, fresh, {}) == "fresh"


@pytest.mark.timeout(150)
def test_a_peer_that_goes_away_fails_calls_at_once_and_comes_back(members: dict[str, Member], tmp_path: Path) -> None:
    a = add(members, tmp_path, "a")
    b = add(members, tmp_path, "b")
    peer = a.register_peer("peer-b", b)
    remote_echo = h.prefixed("peer-b", h.prefixed("b-local", "echo"))
    h.wait_until(lambda: remote_echo in a.tool_names() or None, timeout=20, what="b's tools on a")
    b.gateway.stop()

    def unreachable() -> bool | None:
        with a.api() as api:
            return (not h.ok_json(api.get(f"/gateways/{peer['id']}"), 200)["reachable"]) or None

    h.wait_until(unreachable, timeout=20, what="a's health check to mark the peer unreachable")
    assert remote_echo in a.tool_names(), "an unreachable peer's items stay listed"
    started = time.monotonic()
    reply = rpc_call(a, remote_echo, {"text": "anyone?"})
    assert time.monotonic() - started < 1.0, "a call to an unreachable peer fails at once"
    assert reply["error"]["code"] == -32001 and "unreachable" in reply["error"]["message"], reply

    # The same process again: same port, same database, same gateway id.
    b.gateway.process = h.spawn(
        f"gateway-{b.gateway.port}-again", [str(b.gateway.binary), "serve"], log_dir=b.gateway.workdir, env=b.gateway.env
    )
    h.wait_for_port(b.gateway.process, b.gateway.port)
    h.wait_until(lambda: (not unreachable()) or None, timeout=20, what="the peer to be reachable again")
    assert call_text(a, remote_echo, {"text": "back"}) == "back"


def test_a_gateway_cannot_register_itself(members: dict[str, Member], tmp_path: Path) -> None:
    a = add(members, tmp_path, "a")
    with a.api() as api:
        before = len(h.list_rest(api, "gateways"))
        body = {"name": "myself", "url": a.mcp_url, "auth_type": "bearer", "auth_token": a.gateway.token}
        problem = h.assert_problem(api.post("/gateways", json=body), 422)
        assert "itself" in problem["detail"], problem
        assert len(h.list_rest(api, "gateways")) == before


def test_the_hop_count_refuses_a_call_past_the_maximum(members: dict[str, Member], tmp_path: Path) -> None:
    a = add(members, tmp_path, "a", {"FEDERATION_MAX_HOPS": "2"})
    echo = h.prefixed("a-local", "echo")
    assert rpc_call(a, echo, {"text": "two"}, {"MCP-Gateway-Hops": "2"})["result"]["content"][0]["text"] == "two"
    refused = rpc_call(a, echo, {"text": "three"}, {"MCP-Gateway-Hops": "3"})
    assert refused["error"]["code"] == -32600, refused
    assert "FEDERATION_MAX_HOPS" in refused["error"]["message"]
    assert refused["error"]["data"] == {"hops": 3, "maximumHops": 2}
    garbled = rpc_call(a, echo, {"text": "?"}, {"MCP-Gateway-Hops": "many"})
    assert garbled["error"]["code"] == -32600 and "MCP-Gateway-Hops" in garbled["error"]["message"], garbled
    # The upstream sees the count this gateway set, not the client's.
    headers = rpc_call(a, h.prefixed("a-local", "headers"), {}, {"MCP-Gateway-Hops": "1"})
    assert '"mcp-gateway-hops": "2"' in headers["result"]["content"][0]["text"].lower(), headers


@pytest.mark.timeout(150)
def test_a_chain_and_a_cycle_of_three_settle(members: dict[str, Member], tmp_path: Path) -> None:
    a = add(members, tmp_path, "a")
    b = add(members, tmp_path, "b")
    c = add(members, tmp_path, "c")
    # Chain a -> b -> c: a sees c's tools through b, and calls them across two peers.
    b.register_peer("c", c)
    a.register_peer("b", b)
    through = [h.prefixed("b", h.prefixed("c", t)) for t in local_tools("c-local")]
    a_chain = local_tools("a-local") + [h.prefixed("b", t) for t in local_tools("b-local")] + through
    settled(a, a_chain)
    assert call_text(a, h.prefixed("b", h.prefixed("c", h.prefixed("c-local", "echo"))), {"text": "far"}) == "far"
    # Close the cycle c -> a: each gateway shows the other two's own items once, never its own.
    c.register_peer("a", a)
    settled(a, a_chain)
    b_expected = (
        local_tools("b-local")
        + [h.prefixed("c", t) for t in local_tools("c-local")]
        + [h.prefixed("c", h.prefixed("a", t)) for t in local_tools("a-local")]
    )
    c_expected = (
        local_tools("c-local")
        + [h.prefixed("a", t) for t in local_tools("a-local")]
        + [h.prefixed("a", h.prefixed("b", t)) for t in local_tools("b-local")]
    )
    settled(b, b_expected)
    settled(c, c_expected)
    time.sleep(5)
    assert (a.tool_names(), b.tool_names(), c.tool_names()) == (sorted(a_chain), sorted(b_expected), sorted(c_expected))


@pytest.mark.timeout(120)
def test_static_peers_are_registered_by_the_leader_with_their_tokens(members: dict[str, Member], tmp_path: Path) -> None:
    b = add(members, tmp_path, "b")
    tokens = tmp_path / "peer-tokens"  # as a mounted Kubernetes Secret: one file per peer name
    tokens.mkdir()
    (tokens / "west").write_text(h.mint_token(b.gateway, "federation@example.com", admin=False) + "\n")
    a = add(members, tmp_path, "a", {"FEDERATION_PEERS": f"west={b.mcp_url}", "FEDERATION_PEER_TOKENS_DIR": str(tokens)})
    remote = h.prefixed("west", h.prefixed("b-local", "echo"))
    h.wait_until(lambda: remote in a.tool_names() or None, timeout=20, what="the static peer's tools")
    with a.api() as api:
        west = next(g for g in h.list_rest(api, "gateways") if g["name"] == "west")
    assert west["peer"] is True and west["peerGatewayId"] == b.gateway_id() and west["authType"] == "bearer", west
    assert call_text(a, remote, {"text": "static"}) == "static"
    # An operator who deactivates the peer is not overruled by the next rounds (every 2 s here).
    with a.api() as api:
        h.ok_json(api.post(f"/gateways/{west['id']}/state", params={"activate": "false"}), 200)
        time.sleep(5)
        listed = h.ok_json(api.get("/gateways", params={"limit": 0, "include_inactive": "true"}))
        assert [g["enabled"] for g in listed if g["name"] == "west"] == [False], listed


def test_bad_federation_settings_stop_start_up(tmp_path: Path) -> None:
    for env, reason in [
        ({"FEDERATION_PEERS": "no-url-here"}, "FEDERATION_PEERS"),
        ({"FEDERATION_DISCOVERY": "srv:peers:80"}, "FEDERATION_DISCOVERY"),
        ({"FEDERATION_MAX_HOPS": "0"}, "FEDERATION_MAX_HOPS"),
        ({"FEDERATION_PEER_TOKEN_FILE": str(tmp_path / "missing")}, "FEDERATION_PEER_TOKEN_FILE"),
        ({"IDENTITY_PROPAGATION_ENABLED": "true"}, "IDENTITY_PROPAGATION_PRIVATE_KEY_FILE"),
        ({"IDENTITY_PROPAGATION_TRUSTED_KEY_FILE": str(tmp_path / "missing.pem")}, "IDENTITY_PROPAGATION_TRUSTED_KEY_FILE"),
    ]:
        with pytest.raises(RuntimeError, match=reason):
            h.start_gateway(tmp_path / reason.lower(), extra_env=env, ready_timeout=10)


def ec_key_pair(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    private = directory / "identity.pem"
    public = directory / "identity.pub.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


@pytest.mark.timeout(150)
def test_identity_propagation_lets_a_peer_count_each_caller(members: dict[str, Member], tmp_path: Path) -> None:
    private, public = ec_key_pair(tmp_path)
    quiet = {"HEALTH_CHECK_INTERVAL": "600", "FEDERATION_SYNC_INTERVAL": "600"}
    # b counts MCP requests per subject: 20 a minute.
    b = add(members, tmp_path, "b", dict(quiet, RATE_LIMITING_ENABLED="true", RATE_LIMIT_MCP_PER_MINUTE="20",
                                          IDENTITY_PROPAGATION_TRUSTED_KEY_FILE=str(public)))
    # a vouches for its callers; c (the control) does not.
    a = add(members, tmp_path, "a", dict(quiet, IDENTITY_PROPAGATION_ENABLED="true",
                                          IDENTITY_PROPAGATION_PRIVATE_KEY_FILE=str(private)))
    c = add(members, tmp_path, "c", quiet)
    for federating, subject in ((a, "fed-a@example.com"), (c, "fed-c@example.com")):
        with federating.api() as api:
            token = h.mint_token(b.gateway, subject, admin=False)
            body = {"name": "peer-b", "url": b.mcp_url, "auth_type": "bearer", "auth_token": token}
            h.ok_json(api.post("/gateways", json=body), 200, 201)
    remote = h.prefixed("peer-b", h.prefixed("b-local", "echo"))

    def calls(federating: Member) -> int:
        succeeded = 0
        for user in ("alice@example.com", "bob@example.com"):
            token = h.mint_token(federating.gateway, user, admin=False)
            with httpx.Client(base_url=federating.gateway.base_url, timeout=30,
                              headers={"Authorization": f"Bearer {token}"}) as api:
                for n in range(15):
                    body = {"jsonrpc": "2.0", "id": n, "method": "tools/call",
                            "params": {"name": remote, "arguments": {"text": user}}}
                    reply = api.post("/rpc", json=body).json()
                    succeeded += reply.get("result", {}).get("content", [{}])[0].get("text") == user
        return succeeded


    assert calls(a) == 30, "each caller behind a has a bucket of its own on b"
    assert calls(c) < 30, "without identity propagation every caller behind c shares c's token's bucket"
    # An assertion is bound to the token it travels with, and honoured on MCP endpoints only.

    def assertion(credential: str) -> str:
        now = int(time.time())
        binding = base64.urlsafe_b64encode(hashlib.sha256(credential.encode()).digest()).rstrip(b"=").decode()
        claims = {"sub": "mallory@example.com", "iss": a.gateway_id(), "aud": [b.gateway_id()], "iat": now,
                  "exp": now + 60, "jti": uuid.uuid4().hex, "bnd": binding}
        return pyjwt.encode(claims, private.read_text(), algorithm="ES256")

    own = f"Bearer {b.gateway.token}"
    other = f"Bearer {h.mint_token(b.gateway, 'someone@example.com', admin=False)}"
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    with httpx.Client(base_url=b.gateway.base_url, timeout=30) as http:
        ok = http.post("/rpc", json=ping, headers={"Authorization": own, "MCP-Gateway-Identity": assertion(own)})
        assert ok.status_code == 200, ok.text
        stolen = http.post("/rpc", json=ping, headers={"Authorization": other, "MCP-Gateway-Identity": assertion(own)})
        problem = h.assert_problem(stolen, 401)
        assert "another token" in problem["detail"], problem
        rest = http.get("/tools", headers={"Authorization": own, "MCP-Gateway-Identity": "e30.e30.AAAA"})
        assert rest.status_code == 200, "the REST API ignores assertions"
    # An assertion b cannot verify is refused, not ignored.
    with b.api() as api:
        body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        resp = api.post("/rpc", json=body, headers={"MCP-Gateway-Identity": "e30.e30.AAAA"})
        problem = h.assert_problem(resp, 401)
        assert "identity assertion" in problem["detail"], problem


@pytest.mark.timeout(150)
def test_sampling_logging_subscriptions_and_cancellation_cross_a_peer(members: dict[str, Member], tmp_path: Path) -> None:
    a = add(members, tmp_path, "a")
    b = add(members, tmp_path, "b")
    a.register_peer("peer-b", b)

    def remote(tool: str) -> str:
        return h.prefixed("peer-b", h.prefixed("b-local", tool))

    h.wait_until(lambda: remote("touch") in a.tool_names() or None, timeout=20, what="b's tools on a")
    uri = b.upstream.uris["greeting"]
    logs: list[str] = []
    updates: list[str] = []

    async def sample(context: Any, params: Any) -> CreateMessageResult:
        prompt = params.messages[0].content.text
        return CreateMessageResult(role="assistant", content=TextContent(type="text", text=prompt[::-1]), model="m")

    async def on_log(params: Any) -> None:
        logs.append(params.level)

    async def on_message(message: Any) -> None:
        inner = getattr(message, "root", message)
        if getattr(inner, "method", None) == "notifications/resources/updated":
            updates.append(str(inner.params.uri))

    async def body() -> None:
        async with h.connect(a.mcp_url, token=a.gateway.token, mode="legacy", sampling_callback=sample,
                             logging_callback=on_log, message_handler=on_message) as client:
            sampled = await client.call_tool(remote("ask_sampling"), {"prompt": "peer"})
            assert text_of(sampled) == "sampled: reep", sampled
            assert text_of(await client.call_tool(remote("chatty"), {})) == "logged"
            assert logs == ["debug", "info", "warning", "error"], logs
            await anyio.sleep(0.3)  # the GET stream is open
            await client.subscribe_resource(uri)
            touched = await client.call_tool(remote("touch"), {"uri": uri})
            assert text_of(touched) == "1", "b holds one upstream subscription for a's client"
            with anyio.fail_after(10):
                while updates != [uri]:
                    await anyio.sleep(0.05)

    h.run(body)

    # Cancellation crosses both gateways: the upstream behind b sees it.
    tag = uuid.uuid4().hex
    auth = {"Authorization": f"Bearer {a.gateway.token}"}
    with httpx.Client(timeout=60.0, headers=auth) as http:
        session_id, _ = h.legacy_initialize(http, a.mcp_url)
        headers = {"Mcp-Session-Id": session_id, "MCP-Protocol-Version": h.LEGACY_VERSION}
        call = h.request("tools/call", {"name": remote("slow"), "arguments": {"seconds": 30, "tag": tag}}, 41)
        outcome: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: outcome.update(reply=h.rpc(http, a.mcp_url, call, headers=headers)))
        thread.start()

        def status() -> dict[str, bool]:
            return json.loads(call_text(a, remote("slow_status"), {"tag": tag}))

        h.wait_until(lambda: status()["started"] or None, timeout=10, what="the slow call to start behind b")
        with httpx.Client(timeout=10.0, headers=auth) as other:
            cancel = h.notification("notifications/cancelled", {"requestId": 41, "reason": "test"})
            assert h.rpc(other, a.mcp_url, cancel, headers=headers).status == 202
        thread.join(timeout=10)
        assert not thread.is_alive(), "the cancelled call did not end"
        assert outcome["reply"].error_code(41) == -32800
    h.wait_until(lambda: status()["cancelled"] or None, timeout=10, what="the upstream behind b to see the cancel")


@pytest.mark.timeout(90)
def test_a_re_listing_that_finds_nothing_new_writes_nothing(members: dict[str, Member], tmp_path: Path) -> None:
    a = add(members, tmp_path, "a", {"FEDERATION_SYNC_INTERVAL": "1"})

    def last_seen() -> str:
        with a.api() as api:
            return h.ok_json(api.get(f"/gateways/{a.local_id}"), 200)["lastSeen"]

    time.sleep(2)  # the term's first listing
    before = last_seen()
    time.sleep(4)  # four more listings, nothing new on the upstream
    assert last_seen() == before, "an unchanged listing is not written (nor announced to every node)"
    assert "fresh2" in call_text(a, h.prefixed("a-local", "grow"), {"name": "fresh2"})
    h.wait_until(lambda: h.prefixed("a-local", "fresh2") in a.tool_names() or None, timeout=10, what="the new tool")
    assert last_seen() != before, "a listing that found something new is written"


def test_identity_keys_of_the_wrong_kind_are_refused_by_check_config_and_serve(tmp_path: Path) -> None:
    rsa_key = tmp_path / "rsa.pem"
    rsa_key.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    private, _ = ec_key_pair(tmp_path)
    binary = h.check_gateway_binary()
    base = h.gateway_env(h.free_port(), tmp_path, h.random_secret())

    def check(**extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(binary), "check-config"], env=dict(base, **extra), capture_output=True, text=True,
                              timeout=30, stdin=subprocess.DEVNULL)

    good = check(IDENTITY_PROPAGATION_ENABLED="true", IDENTITY_PROPAGATION_PRIVATE_KEY_FILE=str(private))
    assert good.returncode == 0 and "configuration ok" in good.stdout, good.stderr
    bad = check(IDENTITY_PROPAGATION_ENABLED="true", IDENTITY_PROPAGATION_PRIVATE_KEY_FILE=str(rsa_key))
    assert bad.returncode == 2 and "P-256" in bad.stderr, (bad.returncode, bad.stderr)
    with pytest.raises(RuntimeError, match="P-256"):
        h.start_gateway(tmp_path / "serve", extra_env={"IDENTITY_PROPAGATION_TRUSTED_KEY_FILE": str(rsa_key)},
                        ready_timeout=10)
