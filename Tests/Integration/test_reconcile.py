"""Lost cluster announcements: a node whose Redis user may not PUBLISH (an ACL, as when Redis
refuses or drops its writes) changes the catalog and revokes a token. Nothing reaches the other
node through Redis, yet it serves neither the revoked token nor the stale catalog for longer than
RECONCILE_INTERVAL, because every node reconciles with the store. The failed publishes are
counted in /metrics."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import cluster_servers
import mcp_helpers as h
import postgres_server

INTERVAL = 2


@pytest.fixture(scope="module")
def nodes(
    tmp_path_factory: pytest.TempPathFactory, postgres: postgres_server.PostgresServer
) -> Iterator[tuple[h.Gateway, h.Gateway, h.Upstream]]:
    workdir = tmp_path_factory.mktemp("reconcile")
    redis = h.or_fail(lambda: cluster_servers.start_redis(workdir / "redis"))
    upstream = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=workdir))
    started: list[h.Gateway] = []
    try:
        # Everything but PUBLISH: this node's announcements are refused by Redis.
        redis.command("ACL", "SETUSER", "mute", "on", ">mute-password", "~*", "&*", "+@all", "-publish")
        shared = {
            "DATABASE_URL": postgres.create_database(f"reconcile_{uuid.uuid4().hex[:8]}"),
            "JWT_SECRET_KEY": h.random_secret(),
            "AUTH_ENCRYPTION_SECRET": h.random_secret(),
            "RECONCILE_INTERVAL": str(INTERVAL),
            "RATE_LIMIT_ENABLED": "false",
            "METRICS_BEARER_TOKEN": "s" * 40,
        }
        mute_url = redis.url.replace("redis://", "redis://mute:mute-password@", 1)
        for url in (mute_url, redis.url):
            node = h.start_gateway(workdir / f"node-{len(started)}", extra_env={**shared, "REDIS_URL": url}, mint=False)
            node.token = h.mint_token(node)
            started.append(node)
        yield started[0], started[1], upstream
    finally:
        for node in started:
            node.stop()
        upstream.stop()
        redis.stop()


def metric(gateway: h.Gateway, name: str, kind: str) -> float:
    resp = httpx.get(f"{gateway.base_url}/metrics", headers={"Authorization": "Bearer " + "s" * 40}, timeout=10)
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            if sample.name == name and sample.labels.get("kind") == kind:
                return sample.value
    return 0.0


def test_a_revocation_whose_announcement_was_lost_still_reaches_every_node(nodes) -> None:  # type: ignore[no-untyped-def]
    mute, other, _ = nodes
    with h.rest_client(mute) as api:
        made = h.ok_json(api.post("/tokens", json={"name": f"agent-{uuid.uuid4().hex[:6]}", "expires_in_days": 1}), 201)
        token, token_id = made["access_token"], made["token"]["id"]
        assert httpx.get(f"{other.base_url}/tools", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert api.delete(f"/tokens/{token_id}").status_code == 204
    assert metric(mute, "mcpgateway_cluster_announcement_failures_total", "revocations") >= 1

    def refused() -> bool | None:
        resp = httpx.get(f"{other.base_url}/tools", headers={"Authorization": f"Bearer {token}"})
        return resp.status_code == 401 or None

    h.wait_until(refused, timeout=INTERVAL * 3, interval=0.1, what="the other node to refuse the revoked token")
    assert metric(other, "mcpgateway_cluster_reconciled_total", "revocations") >= 1


def test_a_catalog_change_whose_announcement_was_lost_still_reaches_every_node(nodes) -> None:  # type: ignore[no-untyped-def]
    mute, other, upstream = nodes
    with h.rest_client(mute) as api:
        registered = h.register_gateway(api, f"Quiet {uuid.uuid4().hex[:6]}", upstream)
    assert metric(mute, "mcpgateway_cluster_announcement_failures_total", "catalog") >= 1
    with h.rest_client(other) as api:
        tools = h.wait_for_tools(api, registered["id"], len(h.UPSTREAM_TOOLS))
    assert len(tools) == len(h.UPSTREAM_TOOLS)
    assert metric(other, "mcpgateway_cluster_reconciled_total", "catalog") >= 1
