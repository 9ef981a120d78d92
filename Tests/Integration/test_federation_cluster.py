"""Federation sync in cluster mode: three gateway nodes on PostgreSQL and Redis sync a peer
gateway (an embedded `mcpgateway serve` with its own SDK upstream), and only the leader lists it.

The proof is what the peer receives: its own `mcpgateway_mcp_requests_total{method="tools/list"}`
counts the cluster's listing requests. Per interval the cluster sends one node's worth, not three;
a change on the peer heard by all three nodes costs one listing; after the leader is killed with
SIGKILL, the next leader picks up a change made right after.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import cluster_servers
import mcp_helpers as h
import postgres_server
from test_cluster import LEASE_TTL_MS, Cluster, node_client, start_together


@dataclass
class Peer:
    gateway: h.Gateway
    upstream: h.Upstream
    registration: dict


@dataclass
class Federated:
    cluster: Cluster
    peer: Peer

    def tool(self, original: str) -> str:
        """A tool of the peer's upstream as the cluster lists it."""
        return h.prefixed("peer", h.prefixed("peer-local", original))


def listings(peer: Peer) -> float:
    """How many tools/list requests the peer has answered."""
    resp = httpx.get(f"{peer.gateway.base_url}/metrics", headers={"Authorization": f"Bearer {peer.gateway.token}"}, timeout=10)
    assert resp.status_code == 200, resp.text
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            if sample.name == "mcpgateway_mcp_requests_total" and sample.labels.get("method") == "tools/list":
                return sample.value
    return 0.0


@pytest.fixture(scope="module")
def federated(tmp_path_factory: pytest.TempPathFactory, postgres: postgres_server.PostgresServer) -> Iterator[Federated]:
    workdir = tmp_path_factory.mktemp("federated")
    database = f"federated_{uuid.uuid4().hex[:8]}"
    url = postgres.create_database(database)
    redis = h.or_fail(lambda: cluster_servers.start_redis(workdir / "redis"))
    upstream = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=workdir, namespace="cluster-own"))
    peer_upstream = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=workdir, namespace="peer-own"))
    shared = {
        "DATABASE_URL": url,
        "REDIS_URL": redis.url,
        "JWT_SECRET_KEY": h.random_secret(),
        "AUTH_ENCRYPTION_SECRET": h.random_secret(),
        "MCPGATEWAY_ADMIN_API_ENABLED": "true",
        "LEADER_LEASE_TTL_MS": str(LEASE_TTL_MS),
        "RATE_LIMITING_ENABLED": "false",
        # Long: only list_changed, a new term or a gateway's own sync_interval list sooner.
        "FEDERATION_SYNC_INTERVAL": "600",
    }
    cluster = Cluster(workdir, postgres, database, redis, upstream, upstream, shared)
    peer_gateway: h.Gateway | None = None
    try:
        h.or_fail(lambda: start_together(cluster, 3))
        for index in range(3):
            cluster.node_id(index)
        peer_gateway = h.or_fail(lambda: h.start_gateway(workdir / "peer", extra_env={"GATEWAY_NAME": "Peer"}))
        with h.rest_client(peer_gateway) as api:
            own = h.register_gateway(api, "peer-local", peer_upstream)
            h.wait_for_tools(api, own["id"], len(h.UPSTREAM_TOOLS))
        with node_client(cluster, 0) as api:
            body = {"name": "peer", "url": peer_gateway.mcp_url, "auth_type": "bearer", "auth_token": peer_gateway.token}
            registration = h.ok_json(api.post("/gateways", json=body), 200, 201)
        assert registration["peer"] is True, registration
        federated = Federated(cluster, Peer(peer_gateway, peer_upstream, registration))
        with node_client(cluster, 2) as api:
            h.wait_for_tools(api, registration["id"], len(h.UPSTREAM_TOOLS))
        yield federated
    finally:
        if peer_gateway is not None:
            peer_gateway.stop()
        for node in cluster.nodes:
            node.stop()
        peer_upstream.stop()
        upstream.stop()
        redis.stop()


def tool_names(cluster: Cluster, index: int) -> set[str]:
    with node_client(cluster, index) as api:
        return {tool["name"] for tool in h.list_rest(api, "tools")}


def call_on(cluster: Cluster, index: int, tool: str, arguments: dict) -> dict:
    with node_client(cluster, index) as api:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
        return h.ok_json(api.post("/rpc", json=body), 200)


@pytest.mark.timeout(90)
def test_only_the_leader_lists_a_peer_on_its_interval(federated: Federated) -> None:
    cluster, peer = federated.cluster, federated.peer
    with node_client(cluster, 1) as api:
        h.ok_json(api.put(f"/gateways/{peer.registration['id']}", json={"sync_interval": 2}), 200)
    time.sleep(2.5)
    before = listings(peer)
    time.sleep(12)
    during = listings(peer) - before
    print(f"the peer answered {during:.0f} tools/list in 12 s from a 3-node cluster (sync_interval 2)")
    # One node's worth is 6 in 12 s; three nodes would send 18.
    assert 4 <= during <= 8, during
    with node_client(cluster, 1) as api:
        h.ok_json(api.put(f"/gateways/{peer.registration['id']}", json={"sync_interval": None}), 200)


@pytest.mark.timeout(90)
def test_a_change_heard_by_every_node_costs_one_listing(federated: Federated) -> None:
    cluster, peer = federated.cluster, federated.peer
    # Every node calls the peer once, so every node holds a session with it and hears its news.
    for index in range(3):
        reply = call_on(cluster, index, federated.tool("echo"), {"text": f"node {index}"})
        assert reply["result"]["content"][0]["text"] == f"node {index}", reply
    time.sleep(1)
    before = listings(peer)
    started = time.monotonic()
    name = f"grown{uuid.uuid4().hex[:4]}"
    with h.rest_client(peer.gateway) as api:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": h.prefixed("peer-local", "grow"), "arguments": {"name": name}}}
        assert name in h.ok_json(api.post("/rpc", json=body), 200)["result"]["content"][0]["text"]
    for index in range(3):
        h.wait_until(lambda: federated.tool(name) in tool_names(cluster, index) or None, timeout=15,
                     what=f"the new tool on node {index}")
    print(f"a change on the peer reached all three nodes in {time.monotonic() - started:.2f}s")
    time.sleep(2)
    assert listings(peer) - before == 1, "three nodes heard the change; the leader listed once"


@pytest.mark.timeout(120)
def test_after_the_leader_is_killed_the_next_one_syncs(federated: Federated) -> None:
    cluster, peer = federated.cluster, federated.peer
    leader, epoch = cluster.leader()
    os.kill(cluster.nodes[leader].process.popen.pid, signal.SIGKILL)
    cluster.nodes[leader].process.popen.wait(timeout=10)
    name = f"afterkill{uuid.uuid4().hex[:4]}"
    with h.rest_client(peer.gateway) as api:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": h.prefixed("peer-local", "grow"), "arguments": {"name": name}}}
        assert name in h.ok_json(api.post("/rpc", json=body), 200)["result"]["content"][0]["text"]
    survivors = [i for i in range(3) if i != leader]
    started = time.monotonic()
    for index in survivors:
        h.wait_until(lambda: federated.tool(name) in tool_names(cluster, index) or None,
                     timeout=LEASE_TTL_MS / 1000 + 10, what=f"the change on survivor {index}")
    print(f"after SIGKILL of the leader, the change reached the survivors in {time.monotonic() - started:.2f}s")
    new_leader, new_epoch = cluster.leader()
    assert new_leader != leader and new_epoch > epoch
    cluster.start_node(leader)
