"""The replay buffer of a session is bounded in bytes (MCP_REPLAY_BUFFER_BYTES), not only in
events, in Redis too: a cluster node keeps each session's Redis stream within the byte bound with
a size record beside it, both expiring, and a client that resumes gets the newest events that fit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import cluster_servers
import mcp_helpers as h
import postgres_server
from test_streams import LIST_CHANGED, EventReader

BUDGET = 4096


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory,
         postgres: postgres_server.PostgresServer) -> Iterator[tuple[h.Gateway, cluster_servers.RedisServer, h.Upstream]]:
    workdir = tmp_path_factory.mktemp("replay-bounds")
    redis = h.or_fail(lambda: cluster_servers.start_redis(workdir / "redis"))
    spare = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=workdir, namespace="spare"))
    env = {
        "DATABASE_URL": postgres.create_database(f"replay_{uuid.uuid4().hex[:8]}"),
        "REDIS_URL": redis.url,
        "JWT_SECRET_KEY": h.random_secret(),
        "AUTH_ENCRYPTION_SECRET": h.random_secret(),
        "MCP_REPLAY_BUFFER_BYTES": str(BUDGET),
        "RATE_LIMITING_ENABLED": "false",
    }
    gateway = h.or_fail(lambda: h.start_gateway(workdir / "node", extra_env=env, mint=False))
    gateway.token = h.mint_token(gateway)
    try:
        yield gateway, redis, spare
    finally:
        gateway.stop()
        spare.stop()
        redis.stop()


def test_a_sessions_replay_log_in_redis_stays_within_its_byte_bound(node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gateway, redis, spare = node
    with httpx.Client(base_url=gateway.base_url, timeout=httpx.Timeout(30.0, read=10.0),
                      headers={"Authorization": f"Bearer {gateway.token}"}) as http:
        session_id, _ = h.legacy_initialize(http, gateway.mcp_url)
        headers = {"Mcp-Session-Id": session_id, "MCP-Protocol-Version": h.LEGACY_VERSION,
                   "Accept": "text/event-stream"}
        with http.stream("GET", gateway.mcp_url, headers=headers) as resp:
            reader = EventReader(resp)
            reader.next_event()  # priming
            for _ in range(10):  # 60 list changes, about 100 bytes each: over the budget
                created = h.register_gateway(http, f"Spare {uuid.uuid4().hex[:6]}", spare)
                assert http.delete(f"/gateways/{created['id']}").status_code in (200, 204)
            heard = [reader.next_event() for _ in range(60)]
            assert [m["method"] for _, m in heard[:3]] == LIST_CHANGED
    keys = [k for k in redis.command("--scan", "--pattern", "mcpgw:events:*").splitlines() if k]
    streams = [k for k in keys if not k.endswith(":bytes")]
    assert len(streams) == 1, keys
    stream = streams[0]

    def trimmed() -> int | None:
        size = int(redis.command("GET", stream + ":bytes") or 0)
        return size if 0 < size <= BUDGET else None

    size = h.wait_until(trimmed, timeout=10, what="the replay log to be written and trimmed")
    length = int(redis.command("XLEN", stream))
    assert 10 < length < 60, (length, size)
    # The oldest went, the newest stayed: the last entry kept is the last event sent.
    newest = redis.command("XREVRANGE", stream, "+", "-", "COUNT", "1").splitlines()
    assert heard[-1][0].split("-")[1] in newest, (heard[-1][0], newest)
    assert int(redis.command("PTTL", stream)) > 0 and int(redis.command("PTTL", stream + ":bytes")) > 0
